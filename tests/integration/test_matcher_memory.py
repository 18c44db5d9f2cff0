"""What the matcher remembers, kept in step with the database: a restarted worker reads back distinct wordings."""

from datetime import UTC, datetime, timedelta

from broadcaster.config import Settings
from broadcaster.domain.events import BugReportReceived, IncidentDeclared
from broadcaster.services.incidents import apply_incident_event
from broadcaster.services.linking import LinkingModel
from broadcaster.services.reports import Outcome, receive_reports

T0 = datetime(2026, 11, 24, 16, 15, tzinfo=UTC)
WORDINGS = ("search returns nothing since this morning", "searching for anything gives an empty page")


def reports(sessions, model: LinkingModel, texts: list[str], first: int) -> set[Outcome]:
    """Each text as a report of its own, decided in one batch a second after the last (so they are linked in order)."""
    now = T0 + timedelta(seconds=first)
    events = [BugReportReceived(f"r{first + n}", now, f"user{first + n}@example.com", "Ann Lee", text, "search", "test")
              for n, text in enumerate(texts)]
    with sessions.begin() as session:
        return {result.outcome for result in receive_reports(session, events, now=now, model=model).values()}


def test_after_a_flood_of_one_wording_a_restarted_worker_still_links_the_other(sessions, database_url: str) -> None:
    settings = Settings(database_url=database_url)
    model = LinkingModel(settings)
    with sessions.begin() as session:
        apply_incident_event(session, IncidentDeclared("d-1", "INC-S", T0, "Search returns nothing", "search", "sev2",
                                                       T0 + timedelta(hours=2), ("search",)), now=T0, model=model)
    assert reports(sessions, model, [WORDINGS[0]], 0) == {Outcome.LINKED}
    assert reports(sessions, model, [WORDINGS[1]], 1) == {Outcome.LINKED}
    assert reports(sessions, model, [WORDINGS[0]] * 40, 2) == {Outcome.LINKED}
    restarted = LinkingModel(settings)  # its memory is read back from the links stored
    assert reports(sessions, restarted, [WORDINGS[1]], 100) == {Outcome.LINKED}
