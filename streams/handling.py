"""What a processor does with a message it cannot use, and with failures on the way."""

import asyncio
import logging
import traceback
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import faust
from faust.types import EventT
from sqlalchemy.exc import OperationalError

from broadcaster.domain.incidents import IncidentError
from broadcaster.wire.dead_letters import DeadLetter, encode_dead_letter
from broadcaster.wire.errors import InvalidMessage
from streams.metrics import Metrics

log = logging.getLogger(__name__)
T = TypeVar("T")

REJECTIONS = (InvalidMessage, IncidentError)
"""Failures of the message itself: retrying cannot help, so they are dead-lettered at once."""

BUG_RETRIES = 3
OUTAGE_BACKOFF_CAP_SECONDS = 30.0


class DeadLetters:
    """Where unusable messages go; also where each message's outcome is counted."""

    def __init__(self, topic: faust.TopicT, metrics: Metrics) -> None:
        self._topic = topic
        self.metrics = metrics

    async def send(self, event: EventT, reason: str, processor: str) -> None:
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
        self.metrics.dead_letters.labels(processor).inc()
        log.warning(
            "%s: dead-lettered %s[%d]@%d: %s",
            processor, message.topic, message.partition, message.offset, reason,
        )
        await self._topic.send(key=message.key, value=encode_dead_letter(letter))


async def handle(
    event: EventT,
    processor: str,
    dead_letters: DeadLetters,
    work: Callable[[], T],
) -> T | None:
    """Run ``work`` for one event. Returns None when the event was dead-lettered.

    - the message is wrong (invalid, or an impossible request): dead-letter at once;
    - the database is unreachable: wait and retry for as long as it takes, since
      skipping the message would lose it and the next one would fail the same way;
    - anything else is a bug: retry a few times, then dead-letter with the traceback.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            result = work()
        except REJECTIONS as error:
            await dead_letters.send(event, str(error), processor)
            return None
        except OperationalError as error:
            delay = min(OUTAGE_BACKOFF_CAP_SECONDS, 0.5 * 2**attempt)
            log.error("%s: database unavailable (%s); retrying in %.1fs", processor, error, delay)
            await asyncio.sleep(delay)
        except Exception as error:  # noqa: BLE001 - a bug must not stop the worker
            dead_letters.metrics.failed.labels(processor).inc()
            if attempt >= BUG_RETRIES:
                reason = f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=5)}"
                await dead_letters.send(event, reason, processor)
                return None
            log.exception("%s: processing failed (attempt %d)", processor, attempt)
            await asyncio.sleep(0.2 * attempt)
        else:
            message = event.message
            dead_letters.metrics.processed_message(processor, message.topic, message.partition, message.timestamp)
            return result


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
    """Each event of ``stream`` with its decoded message; the ones that do not decode are dead-lettered."""
    async for event in stream.events():
        message = await handle(event, processor, dead_letters, lambda: decode(event.value))
        if message is not None:
            yield event, message
