"""Email to support (SendGrid Inbound Parse) over real HTTP, on the real broker, on SQLite and PostgreSQL.

A new email becomes a report through the same rules and outbox as every entrance; a
reply carrying a token we signed is stored with its incident, and after the resolution
a reply that says it still fails reaches the owner once, triage, status and the
reopen command, which the worker applies.
"""

import base64
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from broadcaster.bootstrap import bootstrap
from broadcaster.cli.main import cli
from broadcaster.config import Settings
from broadcaster.domain.events import BugReportReceived, IncidentDeclared, IncidentReopened, IncidentResolved
from broadcaster.domain.incidents import IncidentError
from broadcaster.domain.replies import sign
from broadcaster.production import signing_secret
from broadcaster.services import replies
from broadcaster.services.incidents import apply_incident_event
from broadcaster.services.linking import LinkingModel
from broadcaster.services.reports import receive_report
from broadcaster.storage.models import Incident, IncidentUpdate, IntakeRequest, Reply
from tests.support.intake import Intake, records, running_intake, unpublished
from tests.support.waiting import wait_for
from tests.support.worker import settings_environment
from tests.unit.test_replies import form

SECRET = "parse-secret-for-tests"
T0 = datetime.now(UTC) - timedelta(hours=3)


@pytest.fixture
def intake(database_url: str, broker: str, settings_factory: Callable[..., Settings],
           topics_on: Callable[[Settings], None]) -> Iterator[Intake]:
    settings = settings_factory(database_url, kafka_bootstrap=broker, inbound_parse_secret=SECRET,
                                inbound_parse_max_bytes=64 * 1024)
    topics_on(settings)
    with running_intake(settings) as running:
        yield running


def post(client: httpx.Client, fields: dict[str, str | bytes], password: str | None = SECRET) -> httpx.Response:
    content_type, body = form(fields)
    headers = {"Content-Type": content_type}
    if password is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"parse:{password}".encode()).decode()
    return client.post("/v1/inbound/sendgrid", content=body, headers=headers)


def email_from_eric(message_id: str, text: str, to: str = "support@example.com") -> dict[str, str | bytes]:
    return {"from": '"Olsen, Eric" <Eric@Example.com>', "to": to, "subject": "CSV upload fails", "text": text,
            "headers": f"Message-ID: <{message_id}>\n", "envelope": f'{{"to":["{to}"],"from":"eric@example.com"}}',
            "charsets": '{"text":"utf-8","from":"utf-8","subject":"utf-8","to":"utf-8"}'}


def resolved_incident_with_eric(settings: Settings) -> int:
    """INC-CSV declared, Eric's report linked (his acknowledgement's delivery id returned), then resolved."""
    services, model = bootstrap(settings), LinkingModel(settings)
    declared = IncidentDeclared("d-csv", "INC-CSV", T0, "CSV upload to pre-approved members fails", "groups", "sev2",
                                T0 + timedelta(hours=2), ("csv upload",), owner="owner@example.com")
    report = BugReportReceived("r-eric", T0, "eric@example.com", "Eric Olsen",
                               "CSV upload to pre-approved members fails with unexpected error", "groups", "test")
    with services.sessions.begin() as session:
        apply_incident_event(session, declared, now=T0, model=model)
        [delivery_id] = receive_report(session, report, now=T0, model=model).delivery_ids
        apply_incident_event(session, IncidentResolved("res-csv", "INC-CSV", T0 + timedelta(hours=1), "Fixed."),
                             now=T0 + timedelta(hours=1), model=model)
    return delivery_id


def test_an_email_to_support_is_one_report_in_the_senders_name_without_its_quoted_history(intake: Intake) -> None:
    with httpx.Client(base_url=intake.url, timeout=30) as client:
        fields = email_from_eric("m1@mail.example.com", "Every upload stops at 50%.\n\nOn Mon, Bob wrote:\n> old\n")
        answers = [post(client, fields) for _ in range(2)]  # SendGrid posts again after a 5xx
    assert [a.status_code for a in answers] == [202, 202], answers[0].text
    assert answers[0].json() == answers[1].json()
    wait_for(lambda: unpublished(intake) == 0, timeout=30, what="the email to be published")
    [record] = records(intake)
    assert record["source"] == "email" and record["reporter"] == {"email": "eric@example.com", "name": "Olsen, Eric"}
    assert record["text"] == "CSV upload fails\n\nEvery upload stops at 50%."
    with bootstrap(intake.settings).sessions() as session:
        assert session.scalars(select(IntakeRequest.desk)).all() == ["email"]


def test_without_the_secret_nothing_is_read_and_nothing_said(intake: Intake) -> None:
    with httpx.Client(base_url=intake.url, timeout=30) as client:
        fields = email_from_eric("m2@x", "hello")
        answers = [post(client, fields, None), post(client, fields, "wrong"), post(client, fields, SECRET + "x")]
        oversized = post(client, {**fields, "text": "x" * 70_000})
        not_a_form = client.post("/v1/inbound/sendgrid", content=b"{}", headers={
            "Content-Type": "application/json", "Authorization": "Basic " + base64.b64encode(b"p:" + SECRET.encode()).decode()})
        automatic = post(client, {**fields, "headers": "Auto-Submitted: auto-replied\n"})
    assert [(a.status_code, a.json()) for a in answers] == [(401, {"detail": "not authorised"})] * 3
    assert oversized.status_code == 413 and not_a_form.status_code == 422
    assert not_a_form.json()["errors"] == [{"field": "Content-Type",
                                            "problem": "must be multipart/form-data, as SendGrid posts it"}]
    assert (automatic.status_code, automatic.json()["status"]) == (200, "ignored")
    with bootstrap(intake.settings).sessions() as session:  # nothing accepted: nothing to publish either
        assert session.scalars(select(IntakeRequest)).all() == [] and session.scalars(select(Reply)).all() == []


def test_without_a_secret_configured_the_endpoint_is_off(sqlite_url: str, broker: str, settings_factory) -> None:
    settings = settings_factory(sqlite_url, kafka_bootstrap=broker)
    with running_intake(settings) as running, httpx.Client(base_url=running.url, timeout=30) as client:
        answer = post(client, email_from_eric("m3@x", "hello"))
    assert answer.status_code == 503 and "BROADCASTER_INBOUND_PARSE_SECRET" in answer.json()["detail"]


def test_a_reply_after_the_resolution_is_stored_once_flags_a_regression_and_reaches_triage_and_status(
        intake: Intake) -> None:
    delivery_id = resolved_incident_with_eric(intake.settings)
    token = sign(delivery_id, signing_secret(intake.settings))
    reply = email_from_eric("reply-1@x", "Still broken, same error.\n\nOn Tue, Example Support wrote:\n> Fixed.\n",
                            to=f"support+{token}@example.com")
    forged = email_from_eric("reply-2@x", "Still broken", to=f"support+{delivery_id}.{'a' * 24}@example.com")
    with httpx.Client(base_url=intake.url, timeout=30) as client:
        stored = [post(client, reply) for _ in range(2)]
        as_report = post(client, forged)
    assert [(a.status_code, a.json()) for a in stored] == [
        (200, {"status": "reply stored", "incident_id": "INC-CSV", "regression": True})] * 2
    assert as_report.status_code == 202 and as_report.json()["status"] == "accepted"  # never trusted: a new report
    sessions = bootstrap(intake.settings).sessions
    with sessions() as session:
        [row] = session.scalars(select(Reply)).all()
        assert (row.email, row.text, row.classification, row.regression) == (
            "eric@example.com", "Still broken, same error.", "still_fails", True)

    env = settings_environment(intake.settings)
    triage = CliRunner().invoke(cli, ["triage"], env=env)
    assert "1 subscriber(s) say INC-CSV still fails — reopen with: broadcaster incident reopen INC-CSV" in triage.output
    shown = CliRunner().invoke(cli, ["incident", "show", "INC-CSV"], env=env)
    assert "replies: 1, 1 saying it still fails" in shown.output and "Still broken, same error." in shown.output
    with sessions() as session:
        healthy, detail = replies.status_line(session, datetime.now(UTC))
    assert not healthy and "INC-CSV (1)" in detail

    with sessions.begin() as session:
        [told] = replies.regressions_to_tell(session, datetime.now(UTC))
    assert (told.incident_id, told.owner_email, told.subscribers) == ("INC-CSV", "owner@example.com", 1)
    with sessions.begin() as session:
        assert replies.regressions_to_tell(session, datetime.now(UTC)) == []  # once per incident


def test_reopening_applies_to_a_resolved_incident_only_and_ends_the_regression_signal(
        database_url: str, settings_factory) -> None:
    settings = settings_factory(database_url)
    resolved_incident_with_eric(settings)
    sessions, model = bootstrap(settings).sessions, LinkingModel(settings)
    now = datetime.now(UTC)
    reopened = IncidentReopened("reopen-1", "INC-CSV", now, "We are rolling the fix back.", now + timedelta(hours=2))
    with sessions.begin() as session:
        published = apply_incident_event(session, reopened, now=now, model=model)
    assert published is not None
    with sessions() as session:
        incident = session.get_one(Incident, "INC-CSV")
        assert (incident.status, incident.resolved_at) == ("investigating", None)
        assert session.get_one(IncidentUpdate, published.update_id).kind == "reopened"
        assert replies.pending_regressions(session) == []
    again = IncidentReopened("reopen-2", "INC-CSV", now, "Again?", now + timedelta(hours=2))
    with sessions.begin() as session, pytest.raises(IncidentError, match="not resolved"):
        apply_incident_event(session, again, now=now, model=model)
    result = CliRunner().invoke(cli, ["incident", "reopen", "INC-CSV"], env=settings_environment(settings))
    assert result.exit_code == 1 and "INC-CSV is not resolved (it is investigating)" in result.output
