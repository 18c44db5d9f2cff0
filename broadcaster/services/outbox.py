"""The transactional outbox: what an entrance accepted is a committed row before it is a Kafka message.

An entrance (the CLI today; any web entrance tomorrow) calls :func:`add` in the transaction
that accepts the message, and says "accepted" only after the commit. Publishing is the
relay's job (services/relay.py): it publishes the rows that are not on the broker, in
``id`` order, and marks them published. Published rows are kept for the retention window
because a memory-only broker that restarts loses them: :func:`unpublish_sent_before`
hands them back to the relay, and the handlers' ids make the second copy a no-op.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Table, delete, func, insert, select, update
from sqlalchemy.orm import Session

from broadcaster.storage.models import OutboxMessage

BATCH = 500


def add(session: Session, topic: str, key: bytes | None, value: bytes, now: datetime) -> int:
    """Keep one accepted message for publishing; its id is its place in the publishing order."""
    return add_all(session, [(topic, key, value, now)])[0]


def add_all(session: Session, messages: Sequence[tuple[str, bytes | None, bytes, datetime]]) -> list[int]:
    """Keep several accepted messages (topic, key, value, when), in this order; their ids.

    One multi-row INSERT ... RETURNING, not one ORM object each: the intake API commits
    hundreds at a time, and the unit of work cost more than the database did.
    """
    rows = [{"topic": topic, "key": key, "value": value, "created_at": now} for topic, key, value, now in messages]
    if not rows:
        return []
    table = cast(Table, OutboxMessage.__table__)
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(session.connection().execute(statement, rows).scalars())


def pending(
    session: Session, *, up_to: int | None = None, created_before: datetime | None = None, limit: int = BATCH
) -> list[OutboxMessage]:
    """The oldest unpublished messages, in order, stopping before the first one created at or after ``created_before``.

    Stopping there (rather than skipping it) keeps the order: nothing newer than a message
    left to its own entrance goes out before it.
    """
    query = select(OutboxMessage).where(OutboxMessage.published_at.is_(None)).order_by(OutboxMessage.id).limit(limit)
    if up_to is not None:
        query = query.where(OutboxMessage.id <= up_to)
    rows = list(session.scalars(query))
    if created_before is None:
        return rows
    settled = [row.created_at < created_before for row in rows]
    return rows[: settled.index(False)] if False in settled else rows


def mark_published(session: Session, ids: Sequence[int], run_began: datetime) -> None:
    """Record that the broker acknowledged these messages, in a run that began at ``run_began``."""
    if ids:
        session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(published_at=run_began))


def unpublish_sent_before(session: Session, epoch_started: datetime) -> int:
    """Hand back to the relay every kept message published before the broker's epoch began.

    Those went to an earlier broker, or may have: on a memory-only broker they are gone.
    Looked for first: an UPDATE takes SQLite's one write lock even when it changes nothing,
    and the relay asks every second, mostly for nothing.
    """
    if not _any(session, OutboxMessage.published_at < epoch_started):
        return 0
    result = session.execute(
        update(OutboxMessage).where(OutboxMessage.published_at < epoch_started).values(published_at=None)
    )
    return cast(CursorResult[Any], result).rowcount


def prune(session: Session, now: datetime, retention: timedelta) -> int:
    """Forget messages published longer ago than ``retention``: a broker restart after that cannot bring them back."""
    if not _any(session, OutboxMessage.published_at < now - retention):  # as above: no write lock for nothing
        return 0
    result = session.execute(delete(OutboxMessage).where(OutboxMessage.published_at < now - retention))
    return cast(CursorResult[Any], result).rowcount


def backlog(session: Session) -> tuple[int, datetime | None]:
    """How many accepted messages are not on the broker yet, and when the oldest was accepted."""
    count, oldest = session.execute(
        select(func.count(), func.min(OutboxMessage.created_at)).where(OutboxMessage.published_at.is_(None))
    ).one()
    return count, oldest


def _any(session: Session, condition: ColumnElement[bool]) -> bool:
    return session.scalar(select(OutboxMessage.id).where(condition).limit(1)) is not None
