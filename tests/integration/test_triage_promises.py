"""Nobody waits unseen, on real SQL: the triage promise, the reporter's receipt and the owner's reminders."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import event, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from broadcaster.cli.main import cli
from broadcaster.config import Settings
from broadcaster.domain.email import SendResult
from broadcaster.domain.events import BugReportReceived, IncidentDeclared
from broadcaster.mail.sendgrid_api import batches
from broadcaster.messages.sender import Sender
from broadcaster.ops.health import triage_check
from broadcaster.services import composing, ledger, triage
from broadcaster.services.incidents import apply_incident_event
from broadcaster.services.linking import LinkingModel
from broadcaster.services.reports import Outcome, ReportResult, receive_report, receive_reports
from broadcaster.services.suppression import suppress
from broadcaster.services.triage_promises import reminders_due, summary
from broadcaster.storage.models import Delivery, Report, TriageReminder

T0 = datetime(2026, 11, 24, 16, 15, tzinfo=UTC)
LEASE = timedelta(minutes=2)
LEAD = timedelta(minutes=15)
BILLING = "I meant to take the monthly plan but was charged for a full year. Could you refund the difference?"


def model_for(database_url: str, **settings: object) -> LinkingModel:
    return LinkingModel(Settings(database_url=database_url, **settings))


@pytest.fixture
def model(database_url: str) -> LinkingModel:
    return model_for(database_url)


def receive(sessions: sessionmaker[Session], model: LinkingModel, report_id: str, text: str = BILLING,
            email: str = "sonia@example.com", at: datetime = T0) -> ReportResult:
    event = BugReportReceived(report_id, at, email, "Sonia Keller", text, "billing", "test")
    with sessions.begin() as session:
        return receive_report(session, event, now=at, model=model)


def declare_csv(sessions: sessionmaker[Session], model: LinkingModel) -> None:
    declared = IncidentDeclared("d-csv", "INC-CSV", T0, "CSV upload to pre-approved members fails", "groups", "sev2",
                                T0 + timedelta(hours=2), ("csv upload",), "Uploads fail.")
    with sessions.begin() as session:
        apply_incident_event(session, declared, now=T0, model=model)


def send(sessions: sessionmaker[Session], ids: list[int], now: datetime = T0) -> composing.Composed:
    """What the deliver processor does: claim, compose, and record the emails as sent."""
    with sessions.begin() as session:
        claimed = ledger.claim(session, ids, now=now, lease=LEASE, max_attempts=5)
    with sessions() as session:
        composed = composing.compose_claimed(session, claimed, Sender("Example", "Example Support"))
    with sessions.begin() as session:
        ledger.record(session, [SendResult(e.delivery_id, True) for e in composed.emails], now=now,
                      policy=ledger.RetryPolicy())
    return composed


def receipts(sessions: sessionmaker[Session]) -> list[tuple[str | None, str, str | None]]:
    with sessions() as session:
        return [tuple(row) for row in session.execute(select(Delivery.report_id, Delivery.state, Delivery.last_error)
                                                      .where(Delivery.kind == "triage_receipt"))]


def test_a_report_left_to_a_person_is_promised_and_its_reporter_gets_one_receipt(sessions, model) -> None:
    first = receive(sessions, model, "r-sonia")
    assert first.outcome is Outcome.UNLINKED and len(first.delivery_ids) == 1
    with sessions() as session:
        assert session.get_one(Report, "r-sonia").triage_due_at == T0 + timedelta(hours=2)
    again = receive(sessions, model, "r-sonia", at=T0 + timedelta(minutes=5))  # Kafka redelivers it later
    assert again.delivery_ids == first.delivery_ids  # announced again while queued, never a second row
    with sessions() as session:
        assert session.get_one(Report, "r-sonia").triage_due_at == T0 + timedelta(hours=2)  # the promise stands

    [email] = send(sessions, first.delivery_ids).emails
    assert email.to_email == "sonia@example.com"
    assert email.subject == "We have your message and will reply by Tuesday 24 November at 18:15 UTC"
    assert "Hi Sonia," in email.text and '"I meant to take the monthly plan but was charged' in email.text
    assert "A person on our team will read it" in email.text
    assert email.headers["X-Broadcaster-Report"] == "r-sonia" and "List-Unsubscribe" not in email.headers
    assert receive(sessions, model, "r-sonia").delivery_ids == []  # sent: nothing more to announce
    assert receipts(sessions) == [("r-sonia", "sent", None)]


def test_receipts_promising_the_same_time_to_readers_of_one_zone_are_one_request_each_person_their_own(
        sessions, model) -> None:
    """A burst of reports nobody has linked (an outage not declared yet): one mail request per promise and zone,
    not one per person, each person still named and quoted, their own words escaped in HTML."""
    people = [("r-ann", "ann@example.com", "Ann Lee", "the <b>export</b> is empty", None),
              ("r-bo", "bo@example.com", "Bo Chen", BILLING, None),
              ("r-caio", "caio@example.com", "Caio Lima", BILLING, "America/Sao_Paulo")]
    events = [BugReportReceived(i, T0, email, name, text, "billing", "test", zone) for i, email, name, text, zone in people]
    with sessions.begin() as session:
        results = receive_reports(session, events, now=T0, model=model)
    emails = send(sessions, [i for result in results.values() for i in result.delivery_ids]).emails
    requests = [[e.to_email for e in batch] for batch in batches(emails)]
    assert sorted(requests) == [["ann@example.com", "bo@example.com"], ["caio@example.com"]]
    ann, bo, caio = sorted(emails, key=lambda e: e.to_email)
    assert ann.shared is bo.shared and ann.subject == "We have your message and will reply by Tuesday 24 November at 18:15 UTC"
    assert caio.subject.startswith("We have your message and will reply by Tuesday 24 November at 15:15 your time (S")
    assert "Hi Ann," in ann.text and '"the <b>export</b> is empty"' in ann.text and "Hi Bo," in bo.text
    assert "the &lt;b&gt;export&lt;/b&gt; is empty" in ann.html and "<b>export" not in ann.html
    assert "Bo Chen" not in ann.text and "monthly plan" in bo.html
    assert [e.headers["X-Broadcaster-Report"] for e in (ann, bo, caio)] == ["r-ann", "r-bo", "r-caio"]


def test_a_receipt_whose_report_is_linked_first_is_skipped_and_the_acknowledgement_goes(sessions, model) -> None:
    declare_csv(sessions, model)
    result = receive(sessions, model, "r-eric", "my screen flickers when I open the members page", "eric@example.com")
    assert result.outcome in (Outcome.SUGGESTED, Outcome.UNLINKED) and len(result.delivery_ids) == 1
    with sessions.begin() as session:
        linked = triage.link_by_hand(session, "r-eric", "INC-CSV", T0)
    composed = send(sessions, result.delivery_ids + linked.delivery_ids)
    assert [e.headers["X-Broadcaster-Kind"] for e in composed.emails] == ["acknowledgement"]
    assert receipts(sessions) == [("r-eric", "skipped", "not needed: the report was linked before its receipt went out")]


def test_a_suppressed_address_gets_no_receipt(sessions, model) -> None:
    with sessions.begin() as session:
        suppress(session, "sonia@example.com", "bounce", T0)
    assert send(sessions, receive(sessions, model, "r-sonia").delivery_ids).emails == []
    assert receipts(sessions) == [("r-sonia", "skipped", "suppressed: bounce")]


def test_with_receipts_off_the_promise_is_kept_and_no_email_queued(sessions, database_url: str) -> None:
    quiet = model_for(database_url, triage_receipts=False, triage_within="30m")
    assert receive(sessions, quiet, "r-sonia").delivery_ids == []
    with sessions() as session:
        assert session.get_one(Report, "r-sonia").triage_due_at == T0 + timedelta(minutes=30)
    assert receipts(sessions) == []


def test_the_owner_hears_of_each_report_once_before_it_is_due_and_once_when_overdue(sessions, model) -> None:
    for n in range(3):
        receive(sessions, model, f"r{n}", email=f"p{n}@example.com", at=T0 + timedelta(minutes=10 * n))

    def remind(at: datetime) -> tuple[list[str], list[str]]:
        with sessions.begin() as session:
            due = reminders_due(session, at, lead=LEAD)
        return [r.report_id for r in due.overdue], [r.report_id for r in due.due_soon]

    assert remind(T0 + timedelta(minutes=100)) == ([], [])
    assert remind(T0 + timedelta(minutes=110)) == ([], ["r0"])
    assert remind(T0 + timedelta(minutes=110)) == ([], [])  # a restart, another tick: nothing twice
    with sessions.begin() as session:
        triage.close(session, "r1")  # someone answered p1 directly
    assert remind(T0 + timedelta(minutes=130)) == (["r0"], ["r2"])  # r1 left triage; r2 is due at 18:35
    assert remind(T0 + timedelta(hours=5)) == (["r2"], [])  # each overdue report once, batched per tick
    assert remind(T0 + timedelta(hours=6)) == ([], [])


def test_a_reminder_another_worker_recorded_meanwhile_is_not_sent_again(sessions, model, database_url: str) -> None:
    """Two leaders for a moment (a rebalance): the unique key, not the query, decides who reminds."""
    receive(sessions, model, "r-sonia")
    other = sessionmaker(sessions.kw["bind"])

    def another_worker_first(conn, cursor, statement, parameters, context, executemany) -> None:
        """Between our query and our insert, the other worker records the same reminder and commits."""
        if statement.startswith("INSERT INTO triage_reminders"):
            with other.begin() as session:
                session.execute(insert(TriageReminder).values(report_id="r-sonia", stage="overdue", reminded_at=T0))

    with sessions.begin() as session:
        event.listen(session.connection(), "before_cursor_execute", another_worker_first)
        due = reminders_due(session, T0 + timedelta(hours=3), lead=LEAD)
    assert not due
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(TriageReminder)) == 1


def test_status_fails_while_a_report_is_overdue_and_says_who_is_reminded(sessions, model) -> None:
    with sessions() as session:
        assert triage_check(session, T0, "ops@example.com").detail == "nobody waiting"
    receive(sessions, model, "r0", email="p0@example.com")
    receive(sessions, model, "r1", email="p1@example.com", at=T0 + timedelta(hours=1))
    with sessions() as session:
        calm = triage_check(session, T0 + timedelta(minutes=90), "ops@example.com")
        late = triage_check(session, T0 + timedelta(hours=5, minutes=5), None)
        counted = summary(session, T0 + timedelta(hours=2, minutes=30))
    assert calm.healthy and calm.detail == "2 waiting, none overdue, the next due in 30 min"
    assert not late.healthy
    assert late.detail == ("2 waiting, 2 overdue (the longest by 3 h 5 min); `broadcaster triage` lists them; "
                           "nobody is reminded (set BROADCASTER_TRIAGE_OWNER)")
    assert (counted.waiting, counted.overdue) == (2, 1)


def test_a_closed_report_leaves_triage_and_a_redelivery_does_not_bring_it_back(sessions, model) -> None:
    receive(sessions, model, "r-sonia")
    with sessions.begin() as session:
        triage.close(session, "r-sonia")
    with sessions.begin() as session, pytest.raises(triage.TriageError, match="already closed"):
        triage.close(session, "r-sonia")
    assert receive(sessions, model, "r-sonia").outcome is Outcome.CLOSED
    with sessions() as session:
        assert triage.queue(session).unlinked == [] and summary(session, T0 + timedelta(days=1)).waiting == 0


def triage_command(database_url: str, clock: Path, *args: str, code: int = 0) -> str:
    env = {"BROADCASTER_DATABASE_URL": database_url, "BROADCASTER_CLOCK_FILE": str(clock),
           "BROADCASTER_TRIAGE_OWNER": "", "BROADCASTER_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    result = CliRunner().invoke(cli, ["triage", *args], env=env)
    assert result.exit_code == code, result.output
    return result.output


def test_the_triage_list_shows_each_promise_the_most_overdue_first(sessions, model, database_url, tmp_path) -> None:
    receive(sessions, model, "r-late", email="late@example.com")
    receive(sessions, model, "r-later", email="later@example.com", at=T0 + timedelta(minutes=30))
    receive(sessions, model, "r-new", email="new@example.com", at=T0 + timedelta(hours=2))
    clock = tmp_path / "clock"
    clock.write_text((T0 + timedelta(hours=2, minutes=25)).isoformat())

    shown = triage_command(database_url, clock)
    assert ("Waiting for a person: 3, 1 overdue. Each is promised a look within 2h; "
            "nobody is reminded (set BROADCASTER_TRIAGE_OWNER).") in shown
    lines = [line for line in shown.splitlines() if "@example.com" in line]
    assert [line.split("@")[0].split()[-1] for line in lines] == ["late", "later", "new"]
    assert "OVERDUE by 25 min" in lines[0] and "due 18:45 (in 5 min)" in lines[1] and "due 20:15 (in 1 h 35 min)" in lines[2]

    assert "Closed: r-late no longer waits" in triage_command(database_url, clock, "close", "r-late")
    assert "report r-late is already closed" in triage_command(database_url, clock, "close", "r-late", code=1)
    assert "no report r-nope" in triage_command(database_url, clock, "close", "r-nope", code=1)
    assert "Waiting for a person: 2, 0 overdue." in triage_command(database_url, clock)
