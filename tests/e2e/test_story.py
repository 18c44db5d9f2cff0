"""The CSV-upload story, end to end: real broker, real worker, real SQL, real mail paths."""

import re
from collections import Counter

import pytest

from tests.e2e.conftest import System
from tests.support.waiting import wait_for

CSV = "--component", "groups", "--match", "csv upload", "--match", "pre-approved"


def submit(system: System, email: str, name: str, text: str, component: str = "groups") -> None:
    system.run("report", "submit", "--email", email, "--name", name, "--text", text, "--component", component)


def emails_reach(system: System, expected: dict[str, Counter]) -> None:
    def reached() -> bool:
        counts = system.counts()
        return all(counts.get(who, Counter()) >= kinds for who, kinds in expected.items())

    wait_for(reached, timeout=60, what=f"emails {expected}")


@pytest.mark.parametrize(("database", "mail"), [("sqlite", "outbox"), ("postgres", "outbox"), ("sqlite", "sendgrid")])
def test_every_affected_reporter_hears_each_step_exactly_once(
    system_factory, database: str, mail: str, request: pytest.FixtureRequest
) -> None:
    database_url = request.getfixturevalue(f"{database}_url")
    system = system_factory(database_url, mail)

    submit(system, "eric@example.com", "Eric Olsen", "I get an unexpected error when I upload a CSV of <members>")
    submit(system, "sonia@example.com", "Sonia Keller", "I was charged for a year", component="billing")
    wait_for(lambda: system.stored_reports() == 2, what="the worker to store both reports")
    declared = system.run("incident", "declare", "CSV upload to pre-approved members fails", *CSV,
                          "--workaround", "Add members one at a time.", "--next-update-in", "2h")
    incident_id = re.search(r"Declared (INC-\S+):", declared.output).group(1)
    assert "Linked 1 earlier report(s)" in declared.output

    submit(system, "maz@example.com", "Maz Ahmed", "unexpected error when I upload a CSV to my group's pre-approved list")
    submit(system, "eric@example.com", "Eric Olsen", "still failing: csv upload, any news?")
    acknowledged = {who: Counter(acknowledgement=1) for who in ("eric@example.com", "maz@example.com")}
    emails_reach(system, acknowledged)

    system.run("incident", "update", incident_id, "A fix is being tested.", "--status", "identified")
    updated = {who: kinds + Counter(progress=1) for who, kinds in acknowledged.items()}
    emails_reach(system, updated)

    system.run("incident", "resolve", incident_id, "Uploads work again.", "--how-to-verify", "Upload the CSV again.")
    resolved = {who: kinds + Counter(resolution=1) for who, kinds in updated.items()}
    emails_reach(system, resolved)

    submit(system, "tom@example.com", "Tom Brennan", "CSV upload to pre-approved members fails for me")
    final = resolved | {"tom@example.com": Counter(fixed_reply=1), "sonia@example.com": Counter(triage_receipt=1)}
    emails_reach(system, final)

    counts = system.counts()
    # Eric's first report came before the declaration: its receipt went once, or his acknowledgement replaced it.
    assert counts["eric@example.com"].pop("triage_receipt", 0) <= 1
    assert counts == final  # exactly once each; Sonia only her receipt, nothing about the incident
    by_kind = {(e["to"], e["kind"]): e for e in system.emails()}
    receipt = by_kind[("sonia@example.com", "triage_receipt")]
    assert receipt["subject"].startswith("We have your message and will reply by") and receipt["incident"] == ""
    assert "Hi Sonia," in receipt["text"] and '"I was charged for a year"' in receipt["text"]
    assert "A person on our team will read it, and you will hear back from us by" in receipt["text"]
    waiting = [line for line in system.run("triage").output.splitlines() if "sonia@example.com" in line]
    assert len(waiting) == 1 and re.search(r"due \d\d:\d\d \(in 1 h 5\d min\)", waiting[0]), waiting
    ack = by_kind[("eric@example.com", "acknowledgement")]
    assert ack["subject"].startswith("[Investigating] CSV upload to pre-approved members fails")
    assert "Hi Eric," in ack["text"] and "unexpected error when I upload a CSV of <members>" in ack["text"]
    assert "Add members one at a time." in ack["text"]
    resolution = by_kind[("maz@example.com", "resolution")]
    assert resolution["subject"].startswith("[Resolved]")
    assert "Upload the CSV again." in resolution["text"] and "Thank you for reporting it, Maz" in resolution["text"]
    assert "Please try again." in by_kind[("tom@example.com", "fixed_reply")]["text"]

    shown = system.run("incident", "show", incident_id).output
    assert "4 report(s) linked, 3 subscriber(s)" in shown
    assert re.search(r"resolution .*\n\s+emails: 1 fixed reply sent, 2 resolution sent\n", shown)
    subscribers = system.run("subscribers", incident_id).output
    assert "3 subscriber(s)" in subscribers and "sonia" not in subscribers
