"""The service layer driven as the processors drive it, for the integration tests: reports in, incident events in,
and an update's fan-out sent page by page."""

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from broadcaster.domain.events import BugReportReceived, IncidentDeclared, UpdatePublished
from broadcaster.services import ledger
from broadcaster.services.fanout import claim_page, page_bounds
from broadcaster.services.incidents import apply_incident_event
from broadcaster.services.linking import LinkingModel
from broadcaster.services.reports import receive_report

T0 = datetime(2026, 11, 24, 16, 15, tzinfo=UTC)
LEASE = timedelta(minutes=2)
RULES = ledger.ClaimRules(LEASE, max_attempts=5)


def report(report_id: str, email: str, text: str, at: datetime, component: str | None = "groups") -> BugReportReceived:
    return BugReportReceived(report_id, at, email, email.split("@")[0].title(), text, component, "test")


def declared(incident_id: str = "INC-1", at: datetime = T0) -> IncidentDeclared:
    return IncidentDeclared(f"declare-{incident_id}", incident_id, at, "CSV upload to pre-approved members fails",
                            "groups", "sev2", at + timedelta(hours=2), ("csv upload",), "Uploads fail.")


def receive(sessions: sessionmaker[Session], model: LinkingModel, event: BugReportReceived, now: datetime):
    with sessions.begin() as session:
        return receive_report(session, event, now=now, model=model)


def apply(sessions: sessionmaker[Session], model: LinkingModel, event, now: datetime):
    with sessions.begin() as session:
        return apply_incident_event(session, event, now=now, model=model)


def fan_out_all(sessions: sessionmaker[Session], job: UpdatePublished, now: datetime, size: int = 2,
                rules: ledger.ClaimRules = RULES) -> list[int]:
    """The update sent as the fan-out processor sends it: split into pages, each claimed ``size`` rows at a time.

    Returns the ids of the rows claimed, those the senders would send now.
    """
    with sessions() as session:
        pages = page_bounds(session, job, size=size)
    ids: list[int] = []
    for page in pages:
        after: int | None = page.after_subscriber_id
        while after is not None:
            with sessions.begin() as session:
                chunk = claim_page(session, page, after_subscriber_id=after, size=size, now=now, rules=rules)
            ids += chunk.delivery_ids
            after = chunk.last_subscriber_id
    return ids
