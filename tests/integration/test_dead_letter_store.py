"""Dead letters kept in SQL (SQLite and PostgreSQL): stored once, capped, shown, replayed through the outbox, purged."""

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from click.testing import CliRunner, Result
from kafka import KafkaConsumer
from sqlalchemy import select

from broadcaster.cli.main import cli
from broadcaster.config import Settings
from broadcaster.services import dead_letters
from broadcaster.storage.database import make_engine, make_session_factory, transaction
from broadcaster.storage.models import OutboxMessage, StoredDeadLetter
from broadcaster.wire.dead_letters import MAX_ORIGINAL_BYTES, DeadLetter
from streams.handling import DeadLetters
from streams.metrics import Metrics
from tests.support.worker import settings_environment


@pytest.fixture
def sessions(database_url: str) -> Iterator[Callable]:
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


def letter(original: bytes, offset: int = 7, reason: str = "reporter/email: is not a deliverable address",
           topic: str = "t.bug-reports") -> DeadLetter:
    return DeadLetter(reason, "link-reports", topic, 2, offset, original, datetime.now(UTC))


def stored(sessions) -> list[StoredDeadLetter]:
    with sessions() as session:
        return list(session.scalars(select(StoredDeadLetter).order_by(StoredDeadLetter.id)))


def test_a_letter_is_stored_once_however_often_it_is_redelivered_and_its_original_capped(sessions) -> None:
    huge = b"{" + b"x" * (MAX_ORIGINAL_BYTES + 10)
    with transaction(sessions) as session:
        assert dead_letters.store(session, letter(b'{"bad": 1}'), b"eve@example.com") is True
        assert dead_letters.store(session, letter(b'{"bad": 1}'), b"eve@example.com") is False  # redelivered
        assert dead_letters.store(session, letter(b'{"bad": 2}'), None) is True  # another message, same offset
        assert dead_letters.store(session, letter(huge, offset=8), None) is True
    rows = stored(sessions)
    assert [(r.offset, r.original) for r in rows[:2]] == [(7, b'{"bad": 1}'), (7, b'{"bad": 2}')]
    assert rows[0].key == b"eve@example.com" and rows[0].partition == 2 and rows[0].processor == "link-reports"
    assert len(rows[2].original) == MAX_ORIGINAL_BYTES and rows[2].original_size == len(huge)


def test_replay_goes_through_the_outbox_and_a_cut_original_is_refused(sessions) -> None:
    with transaction(sessions) as session:
        dead_letters.store(session, letter(b'{"fixed": true}'), b"key")
        dead_letters.store(session, letter(b"y" * (MAX_ORIGINAL_BYTES + 1), offset=9), None)
    good, cut = (row.id for row in stored(sessions))
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        message_id = dead_letters.replay(session, good, now)
    with sessions() as session:
        message = session.get_one(OutboxMessage, message_id)
        assert (message.topic, message.key, message.value, message.published_at) == (
            "t.bug-reports", b"key", b'{"fixed": true}', None)
    assert stored(sessions)[0].replayed_at == now
    for refused, why in ((cut, "cannot be replayed"), (999_999, "no dead letter 999999")):
        with pytest.raises(dead_letters.DeadLetterError, match=why), transaction(sessions) as session:
            dead_letters.replay(session, refused, now)


def test_purge_deletes_the_replayed_ones_and_everything_only_when_asked(sessions) -> None:
    with transaction(sessions) as session:
        for offset in range(3):
            dead_letters.store(session, letter(b"{}", offset=offset), None)
    with transaction(sessions) as session:
        dead_letters.replay(session, stored(sessions)[0].id, datetime.now(UTC))
    with transaction(sessions) as session:
        assert dead_letters.purge(session) == 1
    with transaction(sessions) as session:
        assert dead_letters.purge(session, everything=True) == 2
    assert stored(sessions) == []


def test_the_processors_dead_letters_reach_the_database_as_well_as_the_topic(sessions) -> None:
    sent: list[tuple[bytes | None, bytes]] = []

    class Topic:
        async def send(self, *, key: bytes | None, value: bytes) -> None:
            sent.append((key, value))

    message = SimpleNamespace(topic="t.incident-events", partition=1, offset=42, key=b"INC-1", value=b"not json")
    letters = DeadLetters(Topic(), Metrics(), sessions)  # type: ignore[arg-type]
    asyncio.run(letters.send(SimpleNamespace(message=message), "not JSON", "apply-incident-events"))  # type: ignore[arg-type]
    asyncio.run(letters.send(SimpleNamespace(message=message), "not JSON", "apply-incident-events"))  # type: ignore[arg-type]
    [row] = stored(sessions)
    assert (row.topic, row.offset, row.key, row.original, row.reason) == (
        "t.incident-events", 42, b"INC-1", b"not json", "not JSON")
    assert len(sent) == 2  # the topic takes each one; the table keeps one


def test_the_dead_letters_command_lists_shows_replays_and_purges(
    sessions, broker: str, settings_factory: Callable[..., Settings], database_url: str
) -> None:
    settings = settings_factory(database_url)
    topic = f"{settings.topic_prefix}bug-reports"
    with transaction(sessions) as session:
        dead_letters.store(session, letter(b'{"type": "bug_report.received"}', topic=topic), b"eve@example.com")
        dead_letters.store(session, letter(b"\xff\xfe", offset=8, reason="not JSON:\nat byte 0", topic=topic), None)
    first, second = (row.id for row in stored(sessions))

    def run(*args: str, input: str | None = None) -> Result:
        env = settings_environment(settings) | {"BROADCASTER_KAFKA_BOOTSTRAP": broker}
        return CliRunner().invoke(cli, ["dead-letters", *args], env=env, input=input, catch_exceptions=False)

    listing = run("list").output.splitlines()
    assert len(listing) == 2 and topic in listing[0] and "not JSON: at byte 0" in listing[1]
    shown = run("show", str(second)).output
    assert f"{topic}[2]@8" in shown and "Reason: not JSON:\nat byte 0" in shown and "(not UTF-8; base64) //4=" in shown
    assert run("show", "999").exit_code == 1

    replayed = run("replay", str(first))
    assert replayed.exit_code == 0 and f"Dead letter {first} replayed onto {topic}" in replayed.output
    consumer = KafkaConsumer(topic, bootstrap_servers=broker, auto_offset_reset="earliest",
                             consumer_timeout_ms=3000)
    assert [(r.key, r.value) for r in consumer] == [(b"eve@example.com", b'{"type": "bug_report.received"}')]
    consumer.close()
    assert "[replayed" in run("list").output

    assert run("purge").output.strip() == "Deleted 1 dead letter(s)."
    assert run("purge", "--all", input="n\n").exit_code == 1 and len(stored(sessions)) == 1
    assert run("purge", "--all", input="y\n").output.endswith("Deleted 1 dead letter(s).\n")
    assert run("list").output.strip() == "No dead letters."


def test_a_dead_letter_or_an_error_never_sends_control_sequences_to_the_terminal(
    sessions, settings_factory: Callable[..., Settings], database_url: str
) -> None:
    """A producer's bytes reached the engineer's terminal as they were: an ESC sequence retitled the window
    and cleared the screen, a bidirectional override made a line read backwards."""
    settings = settings_factory(database_url)
    hostile = "\x1b]0;PWNED\x07\x1b[2J\u202egnp.exe"
    with transaction(sessions) as session:
        dead_letters.store(session, letter(hostile.encode(), reason=f"not JSON: {hostile}"), hostile.encode())
    [row] = stored(sessions)
    env = settings_environment(settings) | {"BROADCASTER_KAFKA_BOOTSTRAP": "127.0.0.1:9"}

    shown = CliRunner().invoke(cli, ["dead-letters", "show", str(row.id)], env=env, catch_exceptions=False).output
    listed = CliRunner().invoke(cli, ["dead-letters", "list"], env=env, catch_exceptions=False).output
    refused = CliRunner().invoke(cli, ["incident", "show", f"INC-{hostile}"], env=env).output

    visible = "\\x1b]0;PWNED\\x07\\x1b[2J\\u202egnp.exe"
    assert shown.count(visible) == 3 and visible in listed and visible in refused, (shown, listed, refused)
    assert not any(character in shown + listed + refused for character in "\x1b\x07\u202e")
