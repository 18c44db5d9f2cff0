"""The outbox and its relay, on SQLite and PostgreSQL and a real broker: order, once, and again after a restart."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kafka import KafkaConsumer
from sqlalchemy import select

from broadcaster.config import Settings
from broadcaster.embedded.broker import EmbeddedBroker, start_broker
from broadcaster.ops.health import outbox_check
from broadcaster.services import outbox
from broadcaster.services.relay import Relay, RelayRun
from broadcaster.storage.database import transaction
from broadcaster.storage.models import OutboxMessage

TIMEOUT = 5.0
T0 = datetime(2026, 11, 25, 16, 15, tzinfo=UTC)


def add(sessions, topic: str, key: str, value: str, at: datetime | None = None) -> int:
    with transaction(sessions) as session:
        return outbox.add(session, topic, key.encode(), value.encode(), at or datetime.now(UTC))


def published(sessions) -> dict[int, datetime | None]:
    with sessions() as session:
        return {row.id: row.published_at for row in session.execute(select(OutboxMessage.id, OutboxMessage.published_at))}


def records(bootstrap: str, topic: str, expected: int) -> list[tuple[bytes, bytes]]:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=3000)
    found = [(r.key, r.value) for r in consumer]
    consumer.close()
    assert len(found) == expected, found
    return found


def test_pending_is_in_order_and_stops_before_the_first_message_its_entrance_may_still_be_publishing(sessions) -> None:
    ids = [add(sessions, "t", "k", f"m{n}", at=T0 + timedelta(seconds=n)) for n in range(4)]
    with sessions() as session:
        assert [m.id for m in outbox.pending(session)] == ids
        assert [m.id for m in outbox.pending(session, up_to=ids[1])] == ids[:2]
        assert [m.id for m in outbox.pending(session, created_before=T0 + timedelta(seconds=2))] == ids[:2]
    with transaction(sessions) as session:
        outbox.mark_published(session, ids[:1], T0)
    with sessions() as session:
        assert [m.id for m in outbox.pending(session)] == ids[1:]


def test_what_was_published_before_the_epoch_is_handed_back_and_what_is_old_is_forgotten(sessions) -> None:
    ids = [add(sessions, "t", "k", f"m{n}") for n in range(3)]
    with transaction(sessions) as session:
        outbox.mark_published(session, ids[:1], T0 - timedelta(days=2))
        outbox.mark_published(session, ids[1:2], T0 - timedelta(minutes=1))
        outbox.mark_published(session, ids[2:], T0 + timedelta(minutes=1))
    with transaction(sessions) as session:
        assert outbox.prune(session, T0, retention=timedelta(days=1)) == 1
        assert outbox.unpublish_sent_before(session, T0) == 1
    assert published(sessions) == {ids[1]: None, ids[2]: T0 + timedelta(minutes=1)}


def test_status_says_when_accepted_messages_have_not_reached_the_broker(sessions) -> None:
    with sessions() as session:
        assert outbox_check(session, T0).healthy
    ids = [add(sessions, "t", "k", "m0", at=T0), add(sessions, "t", "k", "m1", at=T0 + timedelta(seconds=20))]
    with sessions() as session:
        assert outbox_check(session, T0 + timedelta(seconds=10)).healthy  # being published, as usual
        late = outbox_check(session, T0 + timedelta(seconds=45))
    assert not late.healthy and late.detail.startswith("2 accepted message(s) not on the broker yet, the oldest for 45 s")
    with transaction(sessions) as session:
        outbox.mark_published(session, ids, T0 + timedelta(seconds=50))
    with sessions() as session:
        assert outbox_check(session, T0 + timedelta(hours=1)).healthy


def test_the_relay_publishes_in_order_once_and_up_to_the_message_asked(
    sessions, broker: str, settings_factory: Callable[..., Settings], database_url: str
) -> None:
    settings = settings_factory(database_url)
    topic = f"{settings.topic_prefix}bug-reports"
    ids = [add(sessions, topic, "same-key", f"m{n}") for n in range(5)]
    with Relay(settings, sessions, broker, TIMEOUT) as relay:
        assert relay.run(up_to=ids[2]) == RelayRun(published=3, handed_back=0)
        assert [m for m, at in published(sessions).items() if at is None] == ids[3:]
        assert relay.run() == RelayRun(published=2, handed_back=0)
        assert relay.run() == RelayRun(published=0, handed_back=0)
    assert records(broker, topic, 5) == [(b"same-key", f"m{n}".encode()) for n in range(5)]


def test_a_message_just_accepted_is_left_to_its_entrance_and_what_follows_it_waits(
    sessions, broker: str, settings_factory: Callable[..., Settings], database_url: str
) -> None:
    settings = settings_factory(database_url)
    topic = f"{settings.topic_prefix}incident-events"
    old = add(sessions, topic, "INC-1", "declared", at=datetime.now(UTC) - timedelta(minutes=1))
    add(sessions, topic, "INC-1", "updated")
    add(sessions, topic, "INC-1", "resolved", at=datetime.now(UTC) - timedelta(minutes=1))  # older clock, later id
    with Relay(settings, sessions, broker, TIMEOUT) as relay:
        assert relay.run(settled_before=datetime.now(UTC) - timedelta(seconds=15)).published == 1
    assert [m for m, at in published(sessions).items() if at is not None] == [old]


def test_a_run_that_began_before_the_epoch_is_published_again(
    sessions, broker: str, settings_factory: Callable[..., Settings], database_url: str
) -> None:
    """A run that raced a restart (it read the old broker's epoch, its send reached the new broker) is redone."""
    settings = settings_factory(database_url)
    topic = f"{settings.topic_prefix}bug-reports"
    with Relay(settings, sessions, broker, TIMEOUT) as relay:
        relay.run()  # marks the epoch
        late = add(sessions, topic, "k", "raced")
        with transaction(sessions) as session:
            outbox.mark_published(session, [late], datetime.now(UTC) - timedelta(hours=1))
        assert relay.run() == RelayRun(published=1, handed_back=1)
        assert relay.run() == RelayRun(published=0, handed_back=0)
    assert records(broker, topic, 1) == [(b"k", b"raced")]  # the raced send was only pretended here


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[list[EmbeddedBroker]]:
    """A broker this test may kill; the list holds the one running now."""
    running = [start_broker(tmp_path / "broker.log")]
    yield running
    running[-1].stop()


def test_after_a_broker_restart_the_relay_publishes_again_what_the_broker_lost_in_order(
    sessions, own_broker: list[EmbeddedBroker], settings_factory: Callable[..., Settings], database_url: str
) -> None:
    settings = settings_factory(database_url)
    topic = f"{settings.topic_prefix}incident-events"
    first = own_broker[0]
    for step in ("declared", "updated"):
        add(sessions, topic, "INC-1", step)
    with Relay(settings, sessions, first.bootstrap, TIMEOUT) as relay:
        assert relay.run() == RelayRun(published=2, handed_back=0)
    records(first.bootstrap, topic, 2)

    first.process.kill()
    first.process.wait()
    own_broker.append(second := start_broker(first.log_path, port=first.port))
    add(sessions, topic, "INC-1", "resolved")  # accepted after the restart: must not overtake the two lost ones
    with Relay(settings, sessions, second.bootstrap, TIMEOUT) as relay:
        assert relay.run() == RelayRun(published=3, handed_back=2)
        assert relay.run() == RelayRun(published=0, handed_back=0)
    assert records(second.bootstrap, topic, 3) == [(b"INC-1", s) for s in (b"declared", b"updated", b"resolved")]


def test_on_a_broker_that_kept_its_messages_a_new_relay_publishes_nothing_twice(
    sessions, broker: str, settings_factory: Callable[..., Settings], database_url: str
) -> None:
    """What a real cluster looks like to the relay: the marker stays, so a restarted worker republishes nothing."""
    settings = settings_factory(database_url)
    topic = f"{settings.topic_prefix}bug-reports"
    add(sessions, topic, "k", "once")
    runs = []
    for _ in range(3):
        with Relay(settings, sessions, broker, TIMEOUT) as relay:
            runs.append(relay.run())
    assert runs == [RelayRun(1, 0), RelayRun(0, 0), RelayRun(0, 0)]
    records(broker, topic, 1)
