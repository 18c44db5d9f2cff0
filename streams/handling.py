"""What a processor does with a message it cannot use, and with failures on the way."""

import asyncio
import hashlib
import logging
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import faust
from faust.types import EventT
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from broadcaster.domain.incidents import IncidentError
from broadcaster.services import dead_letters
from broadcaster.storage.database import transaction
from broadcaster.wire.dead_letters import DeadLetter, encode_dead_letter
from broadcaster.wire.errors import InvalidMessage
from streams.metrics import Metrics

log = logging.getLogger(__name__)
T = TypeVar("T")
Item = TypeVar("Item")

REJECTIONS = (InvalidMessage, IncidentError)
"""Failures of the message itself: retrying cannot help, so they are dead-lettered at once."""

BUG_RETRIES = 3
MAX_KEY_BYTES = 1024
OUTAGE_BACKOFF_CAP_SECONDS = 30.0


class DeadLetters:
    """Where unusable messages go (the database and the dead-letters topic); also where each message's outcome is counted."""

    def __init__(self, topic: faust.TopicT, metrics: Metrics, sessions: sessionmaker[Session]) -> None:
        self._topic = topic
        self.metrics = metrics
        self._sessions = sessions

    async def send(self, event: EventT, reason: str, processor: str) -> None:
        """Dead-letter ``event``; never raises, so one unwritable letter cannot take a batch down.

        The database copy comes first: it is the one that outlives a memory-only broker,
        and the one ``broadcaster dead-letters`` reads and replays.
        """
        message = event.message
        letter = DeadLetter(
            reason=reason,
            processor=processor,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            original=message.value,
            failed_at=datetime.now(UTC),
        )
        where = f"{message.topic}[{message.partition}]@{message.offset}"
        await self._store(letter, capped_key(message.key), where)
        try:
            await self._topic.send(key=capped_key(message.key), value=encode_dead_letter(letter))
        except Exception:
            self.metrics.dead_letters_unwritable.labels(processor).inc()
            log.exception("%s: could not dead-letter %s (%s); its place in the log is all that is left",
                          processor, where, reason)
            return
        self.metrics.dead_letters.labels(processor).inc()
        log.warning("%s: dead-lettered %s: %s", processor, where, reason)

    async def _store(self, letter: DeadLetter, key: bytes | None, where: str) -> None:
        """Keep the letter in the database, waiting out an outage as :func:`handle` does."""
        attempt = 0
        while True:
            attempt += 1
            try:
                with transaction(self._sessions) as session:
                    dead_letters.store(session, letter, key)
                return
            except OperationalError as error:
                delay = outage_delay(attempt)
                log.error("%s: database unavailable for the dead letter of %s (%s); retrying in %.1fs",
                          letter.processor, where, error, delay)
                await asyncio.sleep(delay)
            except Exception:
                log.exception("%s: could not keep the dead letter of %s in the database", letter.processor, where)
                return


def outage_delay(attempt: int) -> float:
    """Seconds to wait before trying the database again: doubling from 1 s, at most 30 s."""
    return min(OUTAGE_BACKOFF_CAP_SECONDS, 0.5 * 2 ** min(attempt, 10))


def capped_key(key: bytes | None) -> bytes | None:
    """The original key, or its SHA-256 when it is too long to fit beside the dead letter."""
    if key is None or len(key) <= MAX_KEY_BYTES:
        return key
    return b"sha256:" + hashlib.sha256(key).hexdigest().encode()


def bug_reason(error: BaseException) -> str:
    """What a dead letter says about a bug: the exception's type and where it was raised, no values.

    Exception messages can quote anything (SQL errors quote every parameter, subscribers'
    addresses included), so the message itself goes only to the worker's log.
    """
    frames = traceback.extract_tb(error.__traceback__)[-3:]
    where = " < ".join(f"{frame.name} ({frame.filename.rsplit('/', 1)[-1]}:{frame.lineno})" for frame in reversed(frames))
    return f"bug: {type(error).__name__} in {where or 'unknown place'}; the worker log has the details"


async def handle(
    event: EventT,
    processor: str,
    dead_letters: DeadLetters,
    work: Callable[[], T],
    *,
    counted: bool = True,
    in_thread: bool = False,
) -> T | None:
    """Run ``work`` for one event (in a thread with ``in_thread``, so that the event loop and the other
    messages in flight go on meanwhile). Returns None when the event was dead-lettered.

    - the message is wrong (invalid, or an impossible request): dead-letter at once;
    - the database is unreachable: wait and retry for as long as it takes, since
      skipping the message would lose it and the next one would fail the same way;
    - anything else is a bug: retry a few times, then dead-letter with the traceback.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            result = await asyncio.to_thread(work) if in_thread else work()
        except REJECTIONS as error:
            await dead_letters.send(event, str(error), processor)
            return None
        except OperationalError as error:
            delay = outage_delay(attempt)
            log.error("%s: database unavailable (%s); retrying in %.1fs", processor, error, delay)
            await asyncio.sleep(delay)
        except Exception as error:
            dead_letters.metrics.failed.labels(processor).inc()
            if attempt >= BUG_RETRIES:
                log.error("%s: giving up after %d attempts", processor, attempt, exc_info=True)
                await dead_letters.send(event, bug_reason(error), processor)
                return None
            log.exception("%s: processing failed (attempt %d)", processor, attempt)
            await asyncio.sleep(0.2 * attempt)
        else:
            if counted:
                message = event.message
                dead_letters.metrics.processed_message(processor, message.topic, message.partition, message.timestamp)
            return result


async def in_halves(
    items: Sequence[Item],
    process: Callable[[Sequence[Item]], Awaitable[list[T]]],
    process_alone: Callable[[Item], Awaitable[T | None]],
) -> list[T | None]:
    """``process`` the whole batch; if it fails, each half, and so on until the culprit is alone.

    ``process_alone`` handles a single item that failed (retrying or dead-lettering it
    as :func:`handle` does), so every other item of the batch is processed before the
    batch's offsets are committed. A batch with one bad item costs about 2·log2(n) tries.
    """
    if not items:
        return []
    outage = 0
    while True:
        try:
            return list(await process(items))
        except OperationalError as error:  # the database, not the batch: wait and try the whole batch again
            outage += 1
            delay = outage_delay(outage)
            log.error("database unavailable (%s); retrying the batch of %d in %.1fs", error, len(items), delay)
            await asyncio.sleep(delay)
        except Exception:
            if len(items) > 1:
                log.warning("a batch of %d failed; splitting it to find the culprit", len(items), exc_info=True)
            break
    if len(items) == 1:
        return [await process_alone(items[0])]
    middle = len(items) // 2
    return await in_halves(items[:middle], process, process_alone) + await in_halves(items[middle:], process, process_alone)


async def publish(topic: faust.TopicT, key: str, value: bytes) -> Any:
    """Hand a message to the producer without waiting for the broker.

    Faust flushes the producer before it commits source offsets, so what a message
    caused is on the broker before the message itself counts as done; waiting for each
    acknowledgement here would only make every message pay a broker round trip.
    """
    return await topic.send(key=key.encode(), value=value)


async def valid_messages(
    stream: faust.StreamT,
    processor: str,
    dead_letters: DeadLetters,
    decode: Callable[[bytes | None], T],
) -> AsyncIterator[tuple[EventT, T]]:
    """Each event of ``stream`` with its decoded message; the ones that do not decode are dead-lettered.

    A message is counted as processed here, once: the steps that handle it after pass ``counted=False``.
    """
    async for event in stream.events():
        message = await handle(event, processor, dead_letters, partial(decode, event.value))
        if message is not None:
            yield event, message
