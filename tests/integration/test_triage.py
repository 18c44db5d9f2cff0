"""Triage and early warning on real SQL: engineers' decisions subscribe people and teach the matcher."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from broadcaster.config import Settings
from broadcaster.domain.events import BugReportReceived, IncidentDeclared
from broadcaster.linking.matcher import ReportText
from broadcaster.services import triage
from broadcaster.services.incidents import apply_incident_event
from broadcaster.services.linking import LinkingModel
from broadcaster.services.reports import Outcome, ReportResult, receive_report, receive_reports
from broadcaster.storage.models import Delivery, LinkFeedback, Report, SuspectedIncident

T0 = datetime(2026, 11, 24, 16, 15, tzinfo=UTC)


@pytest.fixture
def model(database_url: str) -> LinkingModel:
    return LinkingModel(Settings(database_url=database_url, early_warning_count=3))


def declare(sessions, model, incident_id: str, title: str, description: str = "") -> None:
    event = IncidentDeclared(f"d-{incident_id}", incident_id, T0, title, "groups", "sev2", T0 + timedelta(hours=2),
                             (), description)
    with sessions.begin() as session:
        apply_incident_event(session, event, now=T0, model=model)


def report(sessions, model, report_id: str, text: str, email: str = "ann@example.com"):
    event = BugReportReceived(report_id, T0, email, "Ann Lee", text, "groups", "test")
    with sessions.begin() as session:
        return receive_report(session, event, now=T0, model=model)


def test_confirming_a_suggestion_subscribes_acknowledges_and_is_remembered(sessions, model) -> None:
    declare(sessions, model, "INC-CSV", "CSV upload to pre-approved members fails")
    declare(sessions, model, "INC-INV", "Group invitations never arrive")
    result = report(sessions, model, "r1", "something looks strange on my settings page today")
    assert result.outcome in (Outcome.SUGGESTED, Outcome.UNLINKED)
    with sessions.begin() as session:
        confirmed = triage.link_by_hand(session, "r1", "INC-CSV", T0)
    assert confirmed.outcome is Outcome.LINKED and len(confirmed.delivery_ids) == 1
    with sessions() as session:
        assert session.get_one(Report, "r1").linked_by == "engineer"
        assert session.get_one(Delivery, confirmed.delivery_ids[0]).kind == "acknowledgement"
        assert session.scalars(select(LinkFeedback.verdict)).all() == ["confirmed"]
    with sessions.begin() as session, pytest.raises(triage.TriageError, match="already linked"):
        triage.link_by_hand(session, "r1", "INC-INV", T0)


def test_rejecting_a_suggestion_leaves_the_report_unlinked_and_lowers_the_next_one(sessions, model) -> None:
    declare(sessions, model, "INC-CSV", "CSV upload to pre-approved members fails",
            "Uploading a CSV of pre-approved members fails.")
    text = "csv of members uploaded fine but it is slow"
    with sessions() as session:
        model.sync(session, T0)
    before = model.matcher.scores([ReportText(text)])[0][0]
    report(sessions, model, "r1", text)
    with sessions.begin() as session:
        session.get_one(Report, "r1").link_state = "suggested"
        session.get_one(Report, "r1").candidate_incident_id = "INC-CSV"
    with sessions.begin() as session:
        assert triage.reject(session, "r1", T0) == "INC-CSV"
    with sessions() as session:
        assert session.get_one(Report, "r1").link_state == "unlinked"
        model.sync(session, T0)
    assert model.matcher.scores([ReportText(text)])[0][0] < before


def test_a_batch_of_unlinked_reports_joins_and_raises_suspicions_as_reports_one_by_one_would(sessions, model) -> None:
    dark = ["dark mode makes the calendar unreadable, text is invisible",
            "calendar is unreadable in dark mode since this morning",
            "In dark mode I cannot read anything on the calendar", "dark mode calendar text invisible again"]
    refund = ["please refund my last invoice", "refund my invoice please, charged twice",
              "I need a refund for the last invoice"]
    first = receive_reports_at(sessions, model, {"d0": dark[0], "d1": dark[1], "d2": dark[2], "f0": refund[0]})
    second = receive_reports_at(sessions, model, {"d3": dark[3], "f1": refund[1], "f2": refund[2], "x": "love the app"})
    with sessions() as session:
        calendar, invoices = session.scalars(select(SuspectedIncident.id).order_by(SuspectedIncident.id)).all()
        assert members(session) == {calendar: ["d0", "d1", "d2", "d3"], invoices: ["f0", "f1", "f2"]}
    assert {i: r.suspicion_id for i, r in {**first, **second}.items()} == {
        "d0": calendar, "d1": calendar, "d2": calendar, "f0": None,  # alone in its batch
        "d3": calendar, "f1": invoices, "f2": invoices, "x": None}


def members(session) -> dict[int, list[str]]:
    """Each suspicion's reports, by its id."""
    found: dict[int, list[str]] = {}
    for report_id, suspicion_id in session.execute(select(Report.id, Report.suspicion_id).order_by(Report.id)):
        if suspicion_id is not None:
            found.setdefault(suspicion_id, []).append(report_id)
    return found


def receive_reports_at(sessions, model, texts: dict[str, str]) -> dict[str, ReportResult]:
    """One batch, as the link-reports processor takes them: stored together, then checked in order."""
    events = [BugReportReceived(i, T0, f"{i}@example.com", "Ann Lee", text, "groups", "test") for i, text in texts.items()]
    with sessions.begin() as session:
        return receive_reports(session, events, now=T0, model=model)


def test_three_similar_unlinked_reports_raise_one_suspected_incident(sessions, model) -> None:
    texts = ["dark mode makes the calendar unreadable, text is invisible",
             "calendar is unreadable in dark mode since this morning",
             "In dark mode I cannot read anything on the calendar",
             "dark mode calendar text invisible again"]
    results = [report(sessions, model, f"r{n}", text, f"user{n}@example.com") for n, text in enumerate(texts)]
    report(sessions, model, "other", "please refund my last invoice", "bob@example.com")
    assert [r.suspicion_id is not None for r in results] == [False, False, True, True]
    with sessions() as session:
        [suspicion] = session.scalars(select(SuspectedIncident)).all()
        assert members(session) == {suspicion.id: ["r0", "r1", "r2", "r3"]}
        assert {"dark", "mode", "calendar"} <= set(suspicion.phrases)
        queue = triage.queue(session)
    assert [s.id for s in queue.suspicions] == [suspicion.id]
    assert {r.id for r in queue.unlinked} == {"r0", "r1", "r2", "r3", "other"}
