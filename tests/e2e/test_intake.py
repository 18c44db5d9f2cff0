"""Reports that reach the intake API while a worker runs: from a client with an API key, a Zendesk ticket and an
Intercom conversation, each reporter is acknowledged, and the report's status says linked."""

from collections import Counter

import httpx

from tests.e2e.conftest import System
from tests.support.intake import INTERCOM_SECRET, ZENDESK_SECRET, intercom, running_intake, zendesk
from tests.support.waiting import wait_for

TICKET = {"ticket": {"id": 90210, "subject": "Pre-approved list upload",
                     "description": "I get an unexpected error when I upload a CSV to the pre-approved members list."},
          "requester": {"email": "eric@example.com", "name": "Eric Olsen"}}
CONVERSATION = {"type": "notification_event", "topic": "conversation.user.created", "app_id": "abc123",
                "data": {"item": {"type": "conversation", "id": "5550001", "source": {
                    "subject": "", "body": "<p>The CSV upload to our group's pre-approved members fails every time.</p>",
                    "author": {"type": "user", "email": "ana@example.com", "name": "Ana Lima"}}}}}


def test_reporters_who_write_through_the_api_zendesk_or_intercom_are_acknowledged(system_factory, sqlite_url: str) -> None:
    system: System = system_factory(sqlite_url)
    system.run("incident", "declare", "CSV upload to pre-approved members fails", "--component", "groups",
               "--match", "csv upload", "--match", "pre-approved", "--next-update-in", "2h")
    settings = system.settings.model_copy(update={"kafka_bootstrap": system.bootstrap, "zendesk_webhook_secret": ZENDESK_SECRET,
                                                  "intercom_client_secret": INTERCOM_SECRET})
    report = {"reporter": {"email": "maz@example.com", "name": "Maz Ahmed"}, "component": "groups",
              "text": "unexpected error when I upload a CSV to my group's pre-approved list"}
    with running_intake(settings) as intake, intake.client() as client:
        answer = client.post("/v1/reports", json=report)
        assert answer.status_code == 202, answer.text
        with httpx.Client(base_url=intake.url, timeout=30) as desk:  # a desk signs; it holds no API key
            assert zendesk(desk, TICKET).status_code == 202
            assert intercom(desk, CONVERSATION).status_code == 202
        acknowledged = Counter(acknowledgement=1)
        wait_for(lambda: all(system.counts().get(email) == acknowledged
                             for email in ("maz@example.com", "eric@example.com", "ana@example.com")),
                 timeout=60, what="Maz's, Eric's and Ana's acknowledgements")
        status = client.get(answer.json()["status_url"]).json()
    assert status["state"] == "linked" and status["incident_id"].startswith("INC-")
    names = {email["to"]: email for email in system.emails()}
    assert "Ana" in names["ana@example.com"]["text"] and "Eric" in names["eric@example.com"]["text"]
