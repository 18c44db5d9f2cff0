"""Bad input is dead-lettered with its reason and stops nothing; redelivery sends nothing twice."""

from collections import Counter
from datetime import UTC, datetime, timedelta

from kafka import KafkaProducer

from broadcaster.domain.events import BugReportReceived, DeliveriesQueued, IncidentDeclared, IncidentUpdated
from broadcaster.wire.codec import encode_bug_report, encode_deliveries_queued, encode_incident_event
from tests.e2e.conftest import System
from tests.support.waiting import wait_for


def produce(system: System, topic: str, *values: bytes, key: bytes = b"k") -> None:
    producer = KafkaProducer(bootstrap_servers=system.bootstrap, acks="all", enable_idempotence=False)
    for value in values:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()


def declared(at: datetime) -> IncidentDeclared:
    return IncidentDeclared("declare-1", "INC-E2E-1", at, "CSV upload to pre-approved members fails", "groups",
                            "sev2", at + timedelta(hours=2), ("csv upload",), "Uploads fail.")


def report(report_id: str, email: str, at: datetime) -> BugReportReceived:
    return BugReportReceived(report_id, at, email, "Eric Olsen", "csv upload fails", "groups", "test")


def test_malformed_messages_go_to_the_dead_letter_topic_and_the_worker_carries_on(
    system_factory, sqlite_url: str, read_dead_letters
) -> None:
    system = system_factory(sqlite_url)
    now = datetime.now(UTC)
    good = encode_bug_report(report("r-good", "eric@example.com", now))
    produce(system, system.topics.bug_reports, b"\x00not json", b'{"type": "bug_report.received", "version": 1}', good)
    orphan = IncidentUpdated("u-1", "INC-NOPE-1", now, "news", now + timedelta(hours=1))
    produce(system, system.topics.incident_events, encode_incident_event(orphan))

    wait_for(lambda: system.stored_reports() == 1, what="the valid report after the bad ones")
    letters = read_dead_letters(system, 3)
    reasons = sorted(letter["reason"] for letter in letters)
    assert any(reason.startswith("not JSON") for reason in reasons)
    assert any("'report_id' is a required property" in reason for reason in reasons)
    assert any("INC-NOPE-1: no such incident" in reason for reason in reasons)
    kept = next(letter for letter in letters if letter["reason"].startswith("not JSON"))
    assert kept["original_base64"] == "AG5vdCBqc29u"  # the original bytes, so nothing is lost
    assert kept["source"]["topic"] == system.topics.bug_reports and kept["processor"] == "link-reports"


def test_redelivered_reports_events_and_delivery_jobs_send_each_email_once(
    system_factory, sqlite_url: str
) -> None:
    system = system_factory(sqlite_url)
    now = datetime.now(UTC)
    incident = encode_incident_event(declared(now))
    produce(system, system.topics.incident_events, incident, incident, key=b"INC-E2E-1")
    first = encode_bug_report(report("r-1", "eric@example.com", now))
    produce(system, system.topics.bug_reports, first, first, first)
    wait_for(lambda: system.counts().get("eric@example.com", Counter())["acknowledgement"] == 1, what="the acknowledgement")

    # Replay the delivery job itself, as Kafka would after a crash before the commit.
    produce(system, system.topics.deliveries, encode_deliveries_queued(DeliveriesQueued((1,))))
    update = encode_incident_event(IncidentUpdated("u-1", "INC-E2E-1", now, "Fix in test", now + timedelta(hours=1)))
    produce(system, system.topics.incident_events, update, update, key=b"INC-E2E-1")
    wait_for(lambda: system.counts().get("eric@example.com", Counter())["progress"] == 1, what="the progress update")
    # A report that comes after the duplicates: once it is acknowledged, every duplicate before it was handled.
    produce(system, system.topics.bug_reports, encode_bug_report(report("r-2", "maz@example.com", now)))
    wait_for(lambda: "maz@example.com" in system.counts(), what="the marker report")
    eric = system.counts()["eric@example.com"]
    # r-1 may have reached the worker before the declaration: then its receipt went once, for all three copies.
    assert eric.pop("triage_receipt", 0) <= 1
    assert eric == Counter(acknowledgement=1, progress=1)
