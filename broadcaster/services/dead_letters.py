"""Dead letters in SQL: what no processor could use, kept beyond the broker's memory.

The dead-letters topic is for tools that read Kafka; this table is what an operator
reads (``broadcaster dead-letters``), and what survives a memory-only broker's restart.
A replay puts the original back on its topic through the outbox, so it is as durable as
anything else the CLI accepts.
"""

import hashlib
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.orm import Session

from broadcaster.services import outbox
from broadcaster.storage.models import StoredDeadLetter
from broadcaster.storage.upsert import insert_ignoring_duplicates
from broadcaster.wire.dead_letters import MAX_ORIGINAL_BYTES, DeadLetter, capped


class DeadLetterError(Exception):
    """A request about a dead letter that cannot be done; the message says why."""


def fingerprint(letter: DeadLetter) -> str:
    """The same message dead-lettered twice (a redelivery) has the same fingerprint; a new one at a reused offset does not."""
    where = f"{letter.topic}\0{letter.partition}\0{letter.offset}\0".encode()
    return hashlib.sha256(where + (letter.original or b"")).hexdigest()


def store(session: Session, letter: DeadLetter, key: bytes | None) -> bool:
    """Keep ``letter`` (its original capped as on the topic); False if it was kept already."""
    original = letter.original or b""
    row = {
        "fingerprint": fingerprint(letter), "topic": letter.topic, "partition": letter.partition,
        "offset": letter.offset, "key": key, "processor": letter.processor, "reason": capped(letter.reason),
        "original": original[:MAX_ORIGINAL_BYTES], "original_size": len(original), "created_at": letter.failed_at,
    }
    return insert_ignoring_duplicates(session, StoredDeadLetter, [row], ["fingerprint"]) == 1


def latest(session: Session, limit: int) -> tuple[list[StoredDeadLetter], int]:
    """The ``limit`` newest dead letters, oldest first, and how many there are in all."""
    rows = session.scalars(select(StoredDeadLetter).order_by(StoredDeadLetter.id.desc()).limit(limit))
    total = session.scalar(select(func.count()).select_from(StoredDeadLetter)) or 0
    return list(reversed(list(rows))), total


def waiting(session: Session) -> int:
    """Dead letters no one has dealt with yet: neither replayed nor purged."""
    return session.scalar(select(func.count()).select_from(StoredDeadLetter)
                          .where(StoredDeadLetter.replayed_at.is_(None))) or 0


def find(session: Session, letter_id: int) -> StoredDeadLetter:
    found = session.get(StoredDeadLetter, letter_id)
    if found is None:
        raise DeadLetterError(f"no dead letter {letter_id}; `broadcaster dead-letters list` shows them")
    return found


def replay(session: Session, letter_id: int, now: datetime) -> int:
    """Put the original back on its topic (through the outbox) and mark the letter replayed; the outbox id.

    An original cut when it was dead-lettered is refused: what is kept of it is not the message.
    """
    letter = find(session, letter_id)
    if letter.original_size > len(letter.original):
        raise DeadLetterError(f"dead letter {letter_id} kept only {len(letter.original):,} of its "
                              f"{letter.original_size:,} bytes; it cannot be replayed")
    letter.replayed_at = now
    return outbox.add(session, letter.topic, letter.key, letter.original, now)


def purge(session: Session, *, everything: bool = False) -> int:
    """Delete the replayed dead letters (every one with ``everything``); how many went."""
    statement = delete(StoredDeadLetter)
    if not everything:
        statement = statement.where(StoredDeadLetter.replayed_at.is_not(None))
    return cast(CursorResult[Any], session.execute(statement)).rowcount
