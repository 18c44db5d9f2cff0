"""Bad input loses nothing, blocks no one and reaches no one's inbox (issue 12), on the real broker.

Each test here failed before the input rules, the split-on-failure batches and the
per-recipient delivery isolation existed.
"""

import base64
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.request import urlopen

from sqlalchemy import select, update

from broadcaster.domain.events import BugReportReceived, HoldingUpdateDue
from broadcaster.storage.database import make_engine
from broadcaster.storage.models import Delivery, Incident, Subscriber
from broadcaster.wire.codec import encode_bug_report, encode_incident_event
from tests.e2e.conftest import System
from tests.e2e.test_bad_input_and_redelivery import produce
from tests.support.waiting import wait_for

PRODUCER_LIMIT = 1024 * 1024


def good_report(n: int, at: datetime, text: str = "csv upload fails with unexpected error") -> bytes:
    return encode_bug_report(BugReportReceived(f"good-{n}", at, f"user{n}@example.com", f"User {n}", text, "groups", "test"))


def raw_report(at: datetime, report_id: str, email: str = "eve@example.com", name: str = "Eve",
               text: str = "csv upload fails", received_at: str | None = None) -> bytes:
    return json.dumps({"type": "bug_report.received", "version": 1, "report_id": report_id,
                       "received_at": received_at or at.isoformat(), "reporter": {"email": email, "name": name},
                       "text": text, "component": "groups"}).encode()


def dead_letters(system: System) -> list[dict]:
    return [json.loads(value) for value in system.all_records(system.topics.dead_letters)]


def test_oversized_reports_are_dead_lettered_and_lose_none_of_the_reports_around_them(system_factory, sqlite_url) -> None:
    system = system_factory(sqlite_url)
    now = datetime.now(UTC)
    huge = raw_report(now, "huge", text="x" * 1_000_000)[:1_000_000]  # cut: not even JSON any more
    big = [raw_report(now, f"big-{n}", text="y" * 400_000) for n in range(2)]
    batch = [good_report(n, now) for n in range(50)] + [huge, *big] + [good_report(n, now) for n in range(50, 100)]
    produce(system, system.topics.bug_reports, *batch)

    wait_for(lambda: system.stored_reports() == 100, timeout=60, what="the 100 valid reports around the oversized ones")
    wait_for(lambda: len(dead_letters(system)) == 3, timeout=30, what="three dead letters")
    letters = dead_letters(system)
    for letter, original in zip(sorted(letters, key=lambda x: x["original_size"]), sorted([*big, huge], key=len), strict=True):
        assert "bytes; the limit is" in letter["reason"]
        assert letter["original_size"] == len(original) and letter["original_truncated"] is True
        assert base64.b64decode(letter["original_base64"]) == original[: 256 * 1024]
    assert all(len(value) < PRODUCER_LIMIT / 2 for value in system.all_records(system.topics.dead_letters))


def test_names_and_addresses_that_would_inject_headers_are_refused_and_no_email_carries_them(
    system_factory, sqlite_url
) -> None:
    system = system_factory(sqlite_url)
    system.run("incident", "declare", "CSV upload fails", "--component", "groups", "--match", "csv upload")
    now = datetime.now(UTC)
    hostile = [
        raw_report(now, "h1", name="Bob\nBcc : attacker@evil.com"),
        raw_report(now, "h2", name="Eve\r\n\r\n<h1>Injected</h1>"),
        raw_report(now, "h3", email="victim@example.com\r\nBcc: attacker@evil.com"),
        raw_report(now, "h4", email="a@x.com,attacker@evil.com"),
        raw_report(now, "h5", email="x@"),
        raw_report(now, "h6", email="ann..lee@example.com"),
        raw_report(now, "h7", received_at="9999-12-31T23:59:59Z"),
        raw_report(now, "h8", received_at="0001-01-01T00:00:00+01:00"),
        raw_report(now, "h9", text="nul \x00 byte"),
        b"[" * 100_000 + b"]" * 100_000,
    ]
    produce(system, system.topics.bug_reports, *hostile, good_report(1, now))
    wait_for(lambda: system.counts().get("user1@example.com") == Counter(acknowledgement=1), what="the valid report's ack")
    wait_for(lambda: len(dead_letters(system)) == len(hostile), timeout=30, what="a dead letter for each hostile report")

    reasons = [letter["reason"] for letter in dead_letters(system)]
    for field in ("reporter/name", "reporter/email", "received_at", "text: contains the control character U+0000",
                  "nested too deeply"):
        assert any(field in reason for reason in reasons), (field, reasons)
    assert not any("attacker" in reason or "victim" in reason for reason in reasons)  # no personal data
    assert system.stored_reports() == 1
    for path in system.settings.outbox_dir.glob("*.eml"):
        assert b"evil.com" not in path.read_bytes() and b"Injected" not in path.read_bytes()


def test_a_poison_recipient_is_dead_at_once_and_the_rest_of_its_batch_goes_out(system_factory, database_url) -> None:
    """A subscriber stored before the input rules (a name with CR/LF) cannot block the nine others."""
    system = system_factory(database_url)
    declared = system.run("incident", "declare", "CSV upload fails", "--component", "groups", "--match", "csv upload")
    incident_id = re.search(r"Declared (\S+):", declared.output).group(1)
    now = datetime.now(UTC)
    produce(system, system.topics.bug_reports, *(good_report(n, now) for n in range(10)))
    people = [f"user{n}@example.com" for n in range(10)]
    wait_for(lambda: all(system.counts().get(p) == Counter(acknowledgement=1) for p in people), what="ten acks")
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(update(Subscriber).where(Subscriber.email == "user4@example.com")
                           .values(name="Poison\r\nBcc: attacker@evil.com"))

    system.run("incident", "update", incident_id, "A fix is being tested")
    others = [p for p in people if p != "user4@example.com"]
    wait_for(lambda: all(system.counts()[p]["progress"] == 1 for p in others), what="the nine innocent updates")

    def poison_row() -> tuple[str, int, str | None] | None:
        with engine.connect() as connection:
            return connection.execute(
                select(Delivery.state, Delivery.attempts, Delivery.last_error).join(Delivery.subscriber)
                .where(Subscriber.email == "user4@example.com", Delivery.kind == "progress")).one_or_none()

    wait_for(lambda: (poison_row() or ("",))[0] == "dead", what="the poison row dead")
    state, attempts, reason = poison_row()
    assert attempts == 1 and "recipient's name contains a control character" in reason
    engine.dispose()
    assert system.counts()["user4@example.com"] == Counter(acknowledgement=1)

    listing = system.run("deliveries").output
    assert "dead" in listing and "user4@example.com" in listing and "control character" in listing
    status = system.invoke("status")
    assert status.exit_code == 1 and "1 dead" in status.output, status.output
    metrics = urlopen(f"http://127.0.0.1:{system.settings.worker_web_port}/metrics", timeout=5).read().decode()
    assert 'broadcaster_emails_total{outcome="dead"} 1.0' in metrics


def test_the_cli_refuses_bad_input_with_exit_status_1_and_publishes_nothing(system_factory, sqlite_url) -> None:
    system = system_factory(sqlite_url)
    refusals = {
        ("incident", "declare", "   "): "title: is empty",
        ("incident", "declare", "CSV\nBcc: x@evil.com"): "title: contains the control character U+000A",
        ("incident", "declare", "CSV upload fails", "--owner", "owner@"): "owner: is not a deliverable",
        ("report", "submit", "--email", "a@x.com,b@evil.com", "--name", "Eve", "--text", "hi"): "reporter/email",
        ("report", "submit", "--email", "eve@example.com", "--name", "Eve\r\nBcc: x", "--text", "hi"): "reporter/name",
        ("subscribers", "INC-NOPE"): "no incident INC-NOPE",
    }
    for args, why in refusals.items():
        result = system.invoke(*args)
        assert result.exit_code == 1 and why in result.output, (args, result.output)
    declared = system.run("incident", "declare", "CSV upload fails", "--component", "groups")
    incident_id = re.search(r"Declared (\S+):", declared.output).group(1)
    for message in ("", "  \n "):
        result = system.invoke("incident", "update", incident_id, message)
        assert result.exit_code == 1 and "message: is empty" in result.output, result.output
    result = system.invoke("incident", "resolve", incident_id, " ")
    assert result.exit_code == 1 and "message: is empty" in result.output

    events = system.all_records(system.topics.incident_events)
    assert [json.loads(e)["type"] for e in events] == ["incident.declared"]  # only the valid declaration
    assert system.all_records(system.topics.bug_reports) == []


def test_changing_the_cadence_and_a_stale_holding_request_are_applied_without_a_dead_letter(
    system_factory, sqlite_url
) -> None:
    system = system_factory(sqlite_url)
    declared = system.run("incident", "declare", "CSV upload fails", "--component", "groups", "--next-update-in", "2h")
    incident_id = re.search(r"Declared (\S+):", declared.output).group(1)
    system.run("incident", "cadence", incident_id, "--every", "30m", "--next-update-in", "10m", "--no-holding-updates")
    stale = HoldingUpdateDue(f"holding-{incident_id}-stale", incident_id, datetime.now(UTC),
                             datetime.now(UTC) - timedelta(days=1))
    produce(system, system.topics.incident_events, encode_incident_event(stale), key=incident_id.encode())
    # Same key, same partition: once this update is applied, the two events before it were too.
    system.run("incident", "update", incident_id, "A fix is being tested")

    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        every, holding = connection.execute(
            select(Incident.update_every_seconds, Incident.holding_updates).where(Incident.id == incident_id)).one()
    engine.dispose()
    assert every == 1800 and holding is False
    assert dead_letters(system) == []
    shown = system.run("incident", "cadence", incident_id).output
    assert "news every 30m" in shown and "holding updates off" in shown
