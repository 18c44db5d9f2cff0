"""Reports that reach the intake API while a worker runs, from every entrance: a client with an API key, a Zendesk
ticket, an Intercom conversation and an email to support. Each reporter is acknowledged.

Then the loop of issue 15: a reply to the resolution that says it still fails is stored
with the incident, its owner is told, triage names it with the command that reopens it,
and reopening tells every subscriber it was not fixed.
"""

import base64
from collections import Counter
from email import policy
from email.parser import BytesParser
from email.utils import parseaddr

import httpx

from tests.e2e.conftest import System
from tests.support.intake import INTERCOM_SECRET, ZENDESK_SECRET, intercom, running_intake, zendesk
from tests.support.waiting import wait_for
from tests.unit.test_replies import form

PARSE_SECRET = "e2e-parse-secret"
TICKET = {"ticket": {"id": 90210, "subject": "Pre-approved list upload",
                     "description": "I get an unexpected error when I upload a CSV to the pre-approved members list."},
          "requester": {"email": "lena@example.com", "name": "Lena Park"}}
CONVERSATION = {"type": "notification_event", "topic": "conversation.user.created", "app_id": "abc123",
                "data": {"item": {"type": "conversation", "id": "5550001", "source": {
                    "subject": "", "body": "<p>The CSV upload to our group's pre-approved members fails every time.</p>",
                    "author": {"type": "user", "email": "ana@example.com", "name": "Ana Lima"}}}}}
REPORTERS = ("maz@example.com", "lena@example.com", "ana@example.com", "eric@example.com")


def email_to_support(client: httpx.Client, to: str, text: str, message_id: str) -> httpx.Response:
    content_type, body = form({
        "from": "=?utf-8?q?Eric_Ols=C3=A9n?= <eric@example.com>", "to": to, "subject": "CSV upload",
        "text": text, "headers": f"Message-ID: <{message_id}>\n", "envelope": f'{{"to":["{to}"]}}',
        "charsets": '{"from":"UTF-8","to":"UTF-8","subject":"UTF-8","text":"UTF-8"}'})
    password = base64.b64encode(f"parse:{PARSE_SECRET}".encode()).decode()
    return client.post("/v1/inbound/sendgrid", content=body,
                       headers={"Content-Type": content_type, "Authorization": f"Basic {password}"})


def reply_to_of(system: System, to: str, kind: str) -> str:
    """The Reply-To address of the email of ``kind`` that ``to`` received, read from the .eml file."""
    parser = BytesParser(policy=policy.default)
    for path in system.settings.outbox_dir.glob("*.eml"):
        message = parser.parsebytes(path.read_bytes())
        if parseaddr(str(message["To"]))[1] == to and message["X-Broadcaster-Kind"] == kind:
            return parseaddr(str(message["Reply-To"]))[1]
    raise AssertionError(f"no {kind} email to {to}")


def test_reporters_from_every_entrance_are_acknowledged_and_a_reply_after_the_fix_reopens_it(
        system_factory, sqlite_url: str) -> None:
    system: System = system_factory(sqlite_url, cadence_check_interval=1.0)
    declared = system.run("incident", "declare", "CSV upload to pre-approved members fails", "--component", "groups",
                          "--match", "csv upload", "--match", "pre-approved", "--next-update-in", "2h",
                          "--owner", "owner@example.com")
    incident_id = declared.output.split()[1].rstrip(":")
    settings = system.settings.model_copy(update={
        "kafka_bootstrap": system.bootstrap, "inbound_parse_secret": PARSE_SECRET,
        "zendesk_webhook_secret": ZENDESK_SECRET, "intercom_client_secret": INTERCOM_SECRET})
    report = {"reporter": {"email": "maz@example.com", "name": "Maz Ahmed"}, "component": "groups",
              "text": "unexpected error when I upload a CSV to my group's pre-approved list"}
    with running_intake(settings) as intake, intake.client() as client:
        answer = client.post("/v1/reports", json=report)
        assert answer.status_code == 202, answer.text
        with httpx.Client(base_url=intake.url, timeout=30) as desk:  # a desk signs; it holds no API key
            assert zendesk(desk, TICKET).status_code == 202
            assert intercom(desk, CONVERSATION).status_code == 202
        emailed = email_to_support(client, "support@example.com",
                                   "The csv upload to pre-approved members gives an unexpected error.", "first@x")
        assert emailed.status_code == 202, emailed.text
        wait_for(lambda: all(system.counts().get(email) == Counter(acknowledgement=1) for email in REPORTERS),
                 timeout=60, what="an acknowledgement for the API's, Zendesk's, Intercom's and the email's reporter")
        status = client.get(answer.json()["status_url"]).json()
        assert status["state"] == "linked" and status["incident_id"] == incident_id
        names = {email["to"]: email["text"] for email in system.emails()}
        assert "Hi Ana," in names["ana@example.com"] and "Hi Lena," in names["lena@example.com"]

        system.run("incident", "resolve", incident_id, "Uploads work again.")
        wait_for(lambda: system.counts().get("eric@example.com", Counter())["resolution"] == 1, timeout=60,
                 what="Eric's resolution email")
        reply = email_to_support(client, reply_to_of(system, "eric@example.com", "resolution"),
                                 "Still broken, same error.\n\nOn Tue, Example Support wrote:\n> Fixed\n", "reply@x")
        assert reply.json() == {"status": "reply stored", "incident_id": incident_id, "regression": True}

    wait_for(lambda: system.counts().get("owner@example.com") == Counter(owner_regression=1), timeout=30,
             what="the owner to be told")
    triage = system.run("triage").output
    assert f"1 subscriber(s) say {incident_id} still fails — reopen with: broadcaster incident reopen {incident_id}" \
        in triage
    assert "Still broken, same error." in system.run("incident", "show", incident_id).output
    system.run("incident", "reopen", incident_id, "--message", "We are rolling the fix back.")
    for person in REPORTERS:
        wait_for(lambda p=person: system.counts().get(p, Counter())["reopened"] == 1, timeout=60,
                 what=f"the reopen email to {person}")
    assert system.counts()["eric@example.com"] == Counter(acknowledgement=1, resolution=1, reopened=1)  # no auto-answer
    assert f"{incident_id} still fails" not in system.run("triage").output
