"""Zendesk and Intercom webhooks on the intake API, over real HTTP, on the real broker, on SQLite and PostgreSQL.

The signatures are computed here by the algorithms the vendors document (Zendesk:
base64 HMAC-SHA256 over timestamp + body; Intercom: ``sha1=`` + hex HMAC-SHA1 over the
body), not copied from their examples.
"""

import json
from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from broadcaster.bootstrap import bootstrap, utc_now
from broadcaster.config import Settings
from broadcaster.storage.models import IntakeRequest
from tests.support.intake import (
    INTERCOM_SECRET,
    ZENDESK_SECRET,
    Intake,
    intercom,
    records,
    running_intake,
    unpublished,
    zendesk,
)
from tests.support.waiting import wait_for

TICKET = {"ticket": {"id": 4711, "subject": "CSV upload fails", "description": "Every upload stops at 50%.",
                     "url": "example.zendesk.com/agent/tickets/4711"},
          "requester": {"email": "Eric@Example.com", "name": "Eric Olsen"}}
CONVERSATION = {"type": "notification_event", "topic": "conversation.user.created", "app_id": "abc123",
                "data": {"item": {"type": "conversation", "id": "147000",
                                  "source": {"subject": "", "body": "<p>Export is <b>broken</b> &amp; slow</p><p>Help</p>",
                                             "author": {"type": "user", "email": "ana@example.com", "name": None}}}}}


@pytest.fixture
def intake(database_url: str, broker: str, settings_factory: Callable[..., Settings],
           topics_on: Callable[[Settings], None]) -> Iterator[Intake]:
    settings = settings_factory(database_url, kafka_bootstrap=broker, zendesk_webhook_secret=ZENDESK_SECRET,
                                intercom_client_secret=INTERCOM_SECRET)
    topics_on(settings)
    with running_intake(settings) as running:
        yield running


def test_a_signed_zendesk_ticket_is_one_report_however_often_it_is_retried(intake: Intake) -> None:
    with httpx.Client(base_url=intake.url, timeout=30) as client:  # no API key: the signature is the credential
        answers = [zendesk(client, TICKET) for _ in range(2)]
    assert [a.status_code for a in answers] == [202, 202], answers[0].text
    assert answers[0].json() == answers[1].json()
    wait_for(lambda: unpublished(intake) == 0, timeout=30, what="the ticket to be published")
    [record] = records(intake)
    assert record["report_id"] == answers[0].json()["report_id"] and record["source"] == "zendesk"
    assert record["reporter"] == {"email": "eric@example.com", "name": "Eric Olsen"}
    assert record["text"] == "CSV upload fails\n\nEvery upload stops at 50%."
    with bootstrap(intake.settings).sessions() as session:
        row = session.scalars(select(IntakeRequest)).one()
    assert (row.desk, row.idempotency_key, row.ticket_url) == ("zendesk", "4711", "https://example.zendesk.com/agent/tickets/4711")


def test_a_forged_unsigned_or_stale_zendesk_webhook_is_refused_with_401(intake: Intake) -> None:
    with httpx.Client(base_url=intake.url, timeout=30) as client:
        forged = zendesk(client, TICKET, secret="not-the-secret")
        unsigned = client.post("/v1/webhooks/zendesk", json=TICKET)
        stale = zendesk(client, TICKET, at=utc_now() - timedelta(minutes=6))
        early = zendesk(client, TICKET, at=utc_now() + timedelta(minutes=6))
    assert [a.status_code for a in (forged, unsigned, stale, early)] == [401, 401, 401, 401]
    assert unpublished(intake) == 0 and records(intake, quiet_seconds=0.5) == []


def test_a_signed_intercom_conversation_is_one_report_and_a_ping_is_ignored(intake: Intake) -> None:
    with httpx.Client(base_url=intake.url, timeout=30) as client:
        ping = intercom(client, {"type": "notification_event", "topic": "ping", "data": {"item": {}}})
        answers = [intercom(client, CONVERSATION) for _ in range(2)]
        forged = intercom(client, CONVERSATION | {"app_id": "other"}, secret="not-the-secret")
    assert ping.status_code == 200 and ping.json() == {"status": "ignored"}
    assert [a.status_code for a in answers] == [202, 202], answers[0].text
    assert answers[0].json() == answers[1].json() and forged.status_code == 401
    wait_for(lambda: unpublished(intake) == 0, timeout=30, what="the conversation to be published")
    [record] = records(intake)
    assert record["source"] == "intercom" and record["text"] == "Export is broken & slow\n\nHelp"
    assert record["reporter"] == {"email": "ana@example.com", "name": "ana@example.com"}


def test_malformed_webhooks_are_refused_with_422_naming_the_desk_field(intake: Intake) -> None:
    no_email = {**TICKET, "requester": {"name": "Eric Olsen"}}
    no_source = {**CONVERSATION, "data": {"item": {"id": "1"}}}
    bad_author = json.loads(json.dumps(CONVERSATION))
    bad_author["data"]["item"]["source"]["author"]["email"] = "not an address"
    with httpx.Client(base_url=intake.url, timeout=30) as client:
        answers = {
            "requester/email": zendesk(client, no_email),
            "ticket": zendesk(client, {"requester": TICKET["requester"], "ticket": "4711"}),
            "ticket/id": zendesk(client, {**TICKET, "ticket": {"subject": "x", "description": "y"}}),
            "(body)": zendesk(client, None, body=b"{nope"),
            "data/item/source": intercom(client, no_source),
            "data/item/source/author/email": intercom(client, bad_author),
            "data": intercom(client, {"topic": "conversation.user.created", "data": []}),
        }
        huge_id = zendesk(client, {**TICKET, "ticket": {**TICKET["ticket"], "id": 10**1000}})  # overflowed PostgreSQL
    assert huge_id.status_code == 422 and huge_id.json()["errors"][0]["field"] == "ticket/id", huge_id.text
    for field, answer in answers.items():
        assert answer.status_code == 422, (field, answer.text)
        assert field in {error["field"] for error in answer.json()["errors"]}, (field, answer.text)
    assert "not an address" not in answers["data/item/source/author/email"].text
    assert unpublished(intake) == 0


def test_a_desk_without_its_secret_set_answers_503(
    sqlite_url: str, broker: str, settings_factory: Callable[..., Settings]
) -> None:
    with running_intake(settings_factory(sqlite_url, kafka_bootstrap=broker)) as intake, \
            httpx.Client(base_url=intake.url, timeout=30) as client:
        assert zendesk(client, TICKET).status_code == 503
        assert intercom(client, CONVERSATION).status_code == 503
