"""Reports POSTed to the intake API and emailed to support while a worker runs: each reporter is acknowledged.

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
from tests.support.intake import running_intake
from tests.support.waiting import wait_for
from tests.unit.test_replies import form

PARSE_SECRET = "e2e-parse-secret"


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


def test_reporters_by_api_and_by_email_are_acknowledged_and_a_reply_after_the_fix_reopens_it(
        system_factory, sqlite_url: str) -> None:
    system: System = system_factory(sqlite_url, cadence_check_interval=1.0)
    declared = system.run("incident", "declare", "CSV upload to pre-approved members fails", "--component", "groups",
                          "--match", "csv upload", "--match", "pre-approved", "--next-update-in", "2h",
                          "--owner", "owner@example.com")
    incident_id = declared.output.split()[1].rstrip(":")
    settings = system.settings.model_copy(update={"kafka_bootstrap": system.bootstrap,
                                                  "inbound_parse_secret": PARSE_SECRET})
    report = {"reporter": {"email": "maz@example.com", "name": "Maz Ahmed"}, "component": "groups",
              "text": "unexpected error when I upload a CSV to my group's pre-approved list"}
    with running_intake(settings) as intake, intake.client() as client:
        answer = client.post("/v1/reports", json=report)
        assert answer.status_code == 202, answer.text
        emailed = email_to_support(client, "support@example.com",
                                   "The csv upload to pre-approved members gives an unexpected error.", "first@x")
        assert emailed.status_code == 202, emailed.text
        wait_for(lambda: system.counts().get("maz@example.com") == Counter(acknowledgement=1), timeout=60,
                 what="Maz's acknowledgement")
        wait_for(lambda: system.counts().get("eric@example.com") == Counter(acknowledgement=1), timeout=60,
                 what="the acknowledgement of the email to support")
        status = client.get(answer.json()["status_url"]).json()
        assert status["state"] == "linked" and status["incident_id"] == incident_id

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
    for person in ("maz@example.com", "eric@example.com"):
        wait_for(lambda p=person: system.counts().get(p, Counter())["reopened"] == 1, timeout=60,
                 what=f"the reopen email to {person}")
    assert system.counts()["eric@example.com"] == Counter(acknowledgement=1, resolution=1, reopened=1)  # no auto-answer
    assert f"{incident_id} still fails" not in system.run("triage").output
