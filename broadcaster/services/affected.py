"""Adding people the engineers know were affected: a batch at a time, each person once, their first email queued.

One transaction per batch does everything for its people: addresses that get no email
(suppressed) are left out, the rest become subscribers of the incident if they are not
already (the unique key on incident and address absorbs reporters, earlier imports and
repeats of this one), and each new subscriber's first email (the incident's latest
news) goes into the ledger, announced through the outbox in the same commit. So a
person is either fully added, email queued and announcement owed, or not at all: a
crash or a second run of the same file can neither lose nor double anyone's email
(docs/ARCHITECTURE.md, "Affected people").

On PostgreSQL a batch travels by COPY into a temporary table and both inserts are one
statement (:func:`_subscribe_staged`): a million people were 60 µs each of client and
server work as parameters and two statements, most of the import's time. SQLite keeps
the plain statements (:func:`_subscribe_rows`); both decide alike, tests run on both.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import String, Table, column, exists, literal, select, table, true
from sqlalchemy.orm import Session

from broadcaster.domain.affected import AffectedPerson
from broadcaster.domain.incidents import Status
from broadcaster.domain.notifications import NotificationKind, SubscriberSource, kind_for_affected
from broadcaster.services import ledger, outbox
from broadcaster.services.subscriptions import latest_update
from broadcaster.storage.models import Incident, Subscriber, Suppression
from broadcaster.storage.upsert import among, inserted_ids


@dataclass(frozen=True)
class BatchAdded:
    """What one batch did: how many were added, already there, suppressed; the last outbox message it owes."""

    added: int
    already_subscribed: int
    suppressed: int
    last_message_id: int | None


def add_batch(
    session: Session, incident: Incident, people: Sequence[AffectedPerson], *, deliveries_topic: str, now: datetime
) -> BatchAdded:
    """Subscribe ``people`` to ``incident`` and queue each new one's first email (see the module docstring)."""
    unique = list({p.email: p for p in people}.values())  # a repeat within the batch is "already subscribed"
    kind = kind_for_affected(incident.status != Status.RESOLVED)
    if session.get_bind().dialect.name == "postgresql":
        suppressed, added, queued = _subscribe_staged(session, incident, unique, kind, now)
    else:
        suppressed, added, queued = _subscribe_rows(session, incident, unique, kind, now)
    last_message_id = None
    for key, value in ledger.announcements(queued):
        last_message_id = outbox.add(session, deliveries_topic, key.encode(), value, now)
    refused = sum(p.email in suppressed for p in people)
    return BatchAdded(added, len(people) - added - refused, refused, last_message_id)


def _subscribe_rows(
    session: Session, incident: Incident, unique: Sequence[AffectedPerson], kind: NotificationKind, now: datetime
) -> tuple[set[str], int, list[int]]:
    """The suppressed addresses among ``unique``; how many of the rest became subscribers; their first emails queued."""
    suppressed = set(session.scalars(select(Suppression.email).where(among(session, Suppression.email,
                                                                            [p.email for p in unique]))))
    rows = [{"incident_id": incident.id, "email": p.email, "name": p.name, "first_report_id": None,
             "subscribed_at": now, "source": SubscriberSource.AFFECTED, "time_zone": p.time_zone, "locale": p.locale}
            for p in unique if p.email not in suppressed]
    new_ids = inserted_ids(session, Subscriber, rows, unique=("incident_id", "email"))
    if not new_ids:
        return suppressed, 0, []
    update = latest_update(session, incident.id)
    return suppressed, len(new_ids), ledger.queue(session, [ledger.Wanted(update.id, s, kind) for s in new_ids], now=now)


# A temporary table lives as long as its connection (each of the pool's has its own) and is
# emptied by every commit or rollback; CREATE ... IF NOT EXISTS makes it on a connection's first batch.
_STAGED = table("affected_import", column("email", String), column("name", String), column("time_zone", String),
                column("locale", String))
_CREATE_STAGED = ("CREATE TEMPORARY TABLE IF NOT EXISTS affected_import "
                  "(email text, name text, time_zone text, locale text) ON COMMIT DELETE ROWS")
_COPY_STAGED = "COPY affected_import (email, name, time_zone, locale) FROM STDIN"


def _subscribe_staged(
    session: Session, incident: Incident, unique: Sequence[AffectedPerson], kind: NotificationKind, now: datetime
) -> tuple[set[str], int, list[int]]:
    """As :func:`_subscribe_rows`, on PostgreSQL: COPY the batch into ``affected_import``, then two statements.

    One inserts the subscribers (not suppressed, not there yet) and returns their ids;
    ``ledger.queue_update`` then queues their first emails from those ids, the database
    making the rows (the ledger stays the only writer of delivery rows). Subscribers go in
    address order, so two batches inserting the same addresses at once wait for one
    another in the same order and cannot deadlock.
    """
    connection = session.connection()
    connection.exec_driver_sql(_CREATE_STAGED)
    driver: Any = connection.connection.driver_connection  # psycopg's, inside this session's transaction
    with driver.cursor() as cursor, cursor.copy(_COPY_STAGED) as copy:
        for p in unique:
            copy.write_row((p.email, p.name, p.time_zone, p.locale))
    suppressed = set(session.scalars(select(Suppression.email).join(_STAGED, _STAGED.c.email == Suppression.email)))
    update_id = latest_update(session, incident.id).id
    from sqlalchemy.dialects.postgresql import insert

    subscribers = cast(Table, Subscriber.__table__)
    when = literal(now, subscribers.c.subscribed_at.type)
    added = (
        insert(subscribers)
        .from_select(
            ["incident_id", "email", "name", "confirmed", "subscribed_at", "source", "time_zone", "locale"],
            select(literal(incident.id, String), _STAGED.c.email, _STAGED.c.name, true(), when,
                   literal(SubscriberSource.AFFECTED.value, String), _STAGED.c.time_zone, _STAGED.c.locale)
            .where(~exists().where(Suppression.email == _STAGED.c.email))
            .order_by(_STAGED.c.email),
            include_defaults=False,
        )
        .on_conflict_do_nothing(index_elements=["incident_id", "email"])
        .returning(subscribers.c.id)
    )
    new_ids = list(session.scalars(added).all())  # all(): one fetch, not one call a row
    return suppressed, len(new_ids), ledger.queue_update(session, update_id, kind, new_ids, now=now)
