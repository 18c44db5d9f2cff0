r"""The delivery ledger: the only code that writes delivery rows (with :mod:`~broadcaster.services.ledger_skips`,
which marks the rows that must not go out now), and why each email goes out once.

One row per (incident update, subscriber), or per (report, kind) for an email about a report
that no incident holds yet (the triage receipt), unique in the database. Its life:

    queued -> sending -> sent
                 |  \-> failed -> (retry_at) -> sending ...
                 |  \-> held   -> (retry_at) -> sending ...   (the provider refused our account)
                 |  \-> skipped (the person left the incident, the address is suppressed, or a
                 |              receipt's report left triage first: not a failure)
                 \----> dead (refused, unsendable, or out of attempts)

The exactly-once argument, in full:
1. **At most one row per person per update.** :func:`queue` and its variants are the
   only inserts, each an insert-if-absent on the unique key: acknowledgements, fan-out
   pages, the sweep, triage and retries may all ask for the same row, repeatedly (Kafka
   redelivers); the second ask is a no-op. :func:`queue_about_reports` is the same for emails about
   a report, one per report and kind.
2. **At most one sender per row at a time.** :func:`claim` moves rows to ``sending`` in
   its own transaction, with a conditional UPDATE; two workers cannot both win a row.
   :func:`queue_claimed` inserts a fan-out page's rows already claimed by the worker that
   inserted them, which sends them at once (a row that existed is claimed as above).
   A row claimed by a worker that died is claimable again after the lease, and every
   claim counts as an attempt, so a row that keeps killing its worker dies after
   ``max_attempts`` instead of looping.
3. **Nothing is left behind.** Every queued row is announced on the deliveries topic
   (:func:`announcements`, shared by the worker and the CLI); if an announcement is
   lost, or a claimed row's sender dies, :func:`stalled` finds the row after the lease
   and the leader re-announces it.
4. **The one duplicate window** is a crash after the provider accepted a request and
   before :func:`record` committed: closed by the provider's Event Webhook
   (:func:`confirm_accepted`), which records those rows as sent before the lease ends.
5. **One recipient cannot hold back another**: an email that cannot be composed or is
   refused is recorded dead with its reason, alone (:func:`record` with ``retryable``
   false); the rest of its batch goes out.
6. **Nobody's email dies of an account problem**: when the provider refuses the account
   itself (revoked key, unverified sender), rows are ``held`` and their claim's attempt is
   given back, however long the problem lasts.
"""

import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import CursorResult, and_, literal, or_, select, update
from sqlalchemy.orm import Session

from broadcaster.domain.email import SendResult
from broadcaster.domain.events import DeliveriesQueued
from broadcaster.domain.notifications import DeliveryState, NotificationKind
from broadcaster.domain.quiet_hours import QuietHours
from broadcaster.services import ledger_skips as skips
from broadcaster.storage.models import Delivery, IncidentUpdate, Report, Subscriber
from broadcaster.storage.upsert import among, insert_ignoring_duplicates, inserted_ids, inserted_rows_from, pairs_among

ANNOUNCE_CHUNK = 1000
TROUBLED_STATES = (DeliveryState.FAILED, DeliveryState.HELD, DeliveryState.DEAD)  # not skipped: nothing went wrong
WAITING_STATES = (DeliveryState.FAILED, DeliveryState.HELD)  # claimable again once retry_at has come


class ClaimRules(NamedTuple):
    """How a worker claims rows (:func:`claim`, :func:`queue_claimed`): from its settings."""

    lease: timedelta
    max_attempts: int
    quiet: QuietHours | None = None
    default_time_zone: str = "UTC"


class Wanted(NamedTuple):
    """An email someone must get: this update, to this subscriber, as this kind of email."""

    update_id: int
    subscriber_id: int
    kind: NotificationKind


def queue(session: Session, wanted: Sequence[Wanted], *, now: datetime) -> list[int]:
    """Insert the rows that do not exist yet; return the ids of the wanted rows still queued."""
    if not wanted:
        return []
    rows = [{"update_id": w.update_id, "subscriber_id": w.subscriber_id, "kind": w.kind,
             "state": DeliveryState.QUEUED, "attempts": 0, "queued_at": now} for w in wanted]
    pairs = list({(w.update_id, w.subscriber_id) for w in wanted})
    new = inserted_ids(session, Delivery, rows, unique=("update_id", "subscriber_id"))
    if len(new) == len(pairs):  # all new (a first fan-out): they are the queued ones, no need to read them back
        return sorted(new)
    ids: list[int] = []
    for start in range(0, len(pairs), ANNOUNCE_CHUNK):
        ids += session.scalars(select(Delivery.id).where(
            pairs_among(session, Delivery.update_id, Delivery.subscriber_id, pairs[start : start + ANNOUNCE_CHUNK]),
            Delivery.state == DeliveryState.QUEUED))
    return sorted(ids)


def queue_update(session: Session, update_id: int, kind: NotificationKind, subscriber_ids: Sequence[int], *,
                 now: datetime) -> list[int]:
    """:func:`queue` for one update and these subscribers, the rows made by the database from their ids."""
    if not subscriber_ids:
        return []
    new = [delivery_id for delivery_id, _ in _insert_for_update(
        session, update_id, kind, subscriber_ids, {"state": DeliveryState.QUEUED, "attempts": 0, "queued_at": now})]
    if len(new) == len(set(subscriber_ids)):  # all new (a first fan-out): they are the queued ones
        return sorted(new)
    return sorted(session.scalars(select(Delivery.id).where(
        Delivery.update_id == update_id, among(session, Delivery.subscriber_id, subscriber_ids),
        Delivery.state == DeliveryState.QUEUED)))


def queue_claimed(
    session: Session, update_id: int, kind: NotificationKind, subscriber_ids: Sequence[int], *, now: datetime,
    lease: timedelta, max_attempts: int, quiet: QuietHours | None = None, default_time_zone: str = "UTC",
) -> list[int]:
    """:func:`queue_update` and :func:`claim` at once, for a sender that will send these rows itself.

    New rows go in already claimed (``sending``, one attempt): each recipient of a fan-out
    costs one write fewer, and no announcement on the deliveries topic. A row claimed so is
    covered as any claim is: if its sender dies, :func:`stalled` finds it after the lease.
    The same statement skips the people a claim would skip (suppressed, unsubscribed), so
    their rows go in ``skipped`` with the reason: read apart, the check cost PostgreSQL more
    than the insert (13 µs a recipient). Rows that were there already (a redelivered page)
    are claimed as :func:`claim` would.
    """
    if not subscriber_ids:
        return []
    inserted = _insert_for_update(session, update_id, kind, subscriber_ids, {
        "state": DeliveryState.SENDING, "attempts": 1, "queued_at": now, "claimed_at": now}, skip_unwanted=True)
    claimed = [delivery_id for delivery_id, state in inserted if state == DeliveryState.SENDING]
    if len(inserted) < len(set(subscriber_ids)):
        earlier = list(session.scalars(select(Delivery.id).where(
            Delivery.update_id == update_id, among(session, Delivery.subscriber_id, subscriber_ids),
            Delivery.id.not_in([delivery_id for delivery_id, _ in inserted]))))
        claimed += skips.drop_unwanted(session, _claim_rows(session, earlier, now=now, lease=lease, max_attempts=max_attempts))
    return skips.awake(session, claimed, now, quiet, default_time_zone)


def _insert_for_update(session: Session, update_id: int, kind: NotificationKind, subscriber_ids: Sequence[int],
                       values: dict[str, Any], *, skip_unwanted: bool = False) -> list[tuple[int, str]]:
    """Insert one row of ``values`` per subscriber where none exists; the new rows' ids and states.

    ``skip_unwanted``: a suppressed address's or an unsubscribed person's row goes in ``skipped``
    with its reason, whatever state ``values`` gives (``ledger_skips.decided_on_insert``).
    """
    table = Delivery.__table__
    made: dict[str, Any] = {name: literal(value, table.c[name].type)
                            for name, value in {"update_id": update_id, "kind": kind, **values}.items()}
    rows = select(Subscriber.id)
    if skip_unwanted:
        rows, made["last_error"], made["state"] = skips.decided_on_insert(rows, made["state"])
    return inserted_rows_from(session, Delivery, ["subscriber_id", *made],
                              rows.add_columns(*made.values()).where(among(session, Subscriber.id, subscriber_ids)),
                              unique=("update_id", "subscriber_id"), returning=("id", "state"))


def queue_about_reports(session: Session, report_ids: Sequence[str], kind: NotificationKind, *,
                        now: datetime) -> dict[str, int]:
    """Insert one row of ``kind`` per report where none exists; return those rows still queued, by report."""
    if not report_ids:
        return {}
    unique_ids = list(dict.fromkeys(report_ids))
    rows = [{"report_id": report_id, "kind": kind, "state": DeliveryState.QUEUED, "attempts": 0, "queued_at": now}
            for report_id in unique_ids]
    insert_ignoring_duplicates(session, Delivery, rows, unique=("report_id", "kind"))
    queued = session.execute(select(Delivery.report_id, Delivery.id).where(
        Delivery.report_id.in_(unique_ids), Delivery.kind == kind, Delivery.state == DeliveryState.QUEUED))
    return {report_id: delivery_id for report_id, delivery_id in queued if report_id is not None}


def announcements(delivery_ids: Sequence[int]) -> Iterator[tuple[str, bytes]]:
    """(key, value) messages for the deliveries topic, at most 1,000 ids each.

    Keyed by the first id, so the pages of one big fan-out spread over every partition
    and every worker of the group shares the sending.
    """
    from broadcaster.wire.codec import encode_deliveries_queued  # jsonschema: not for commands that only read

    ids = list(dict.fromkeys(delivery_ids))
    for start in range(0, len(ids), ANNOUNCE_CHUNK):
        chunk = tuple(ids[start : start + ANNOUNCE_CHUNK])
        yield str(chunk[0]), encode_deliveries_queued(DeliveriesQueued(chunk))


def claim(
    session: Session, delivery_ids: Sequence[int], *, now: datetime, lease: timedelta, max_attempts: int,
    quiet: QuietHours | None = None, default_time_zone: str = "UTC",
) -> list[int]:
    """Mark the sendable rows among ``delivery_ids`` as ours; return the ones we got.

    A row whose lease ran out ``max_attempts`` times (its sender died each time) is dead:
    whatever it carries kills workers, and trying again would only do it again. With
    ``quiet`` hours, a holding update to a reader for whom it is night is skipped.
    """
    claimed = _claim_rows(session, delivery_ids, now=now, lease=lease, max_attempts=max_attempts)
    return skips.still_wanted(session, claimed, now, quiet, default_time_zone)


def _claim_rows(session: Session, delivery_ids: Sequence[int], *, now: datetime, lease: timedelta,
                max_attempts: int) -> list[int]:
    """The conditional UPDATE of :func:`claim`: the rows among ``delivery_ids`` that were sendable, now ours."""
    if not delivery_ids:
        return []
    expired = and_(Delivery.state == DeliveryState.SENDING, Delivery.claimed_at < now - lease)
    session.execute(
        update(Delivery).where(among(session, Delivery.id, delivery_ids), expired, Delivery.attempts >= max_attempts)
        .values(state=DeliveryState.DEAD,
                last_error=f"gave up after {max_attempts} attempts: each time the sender stopped before it finished")
        .execution_options(synchronize_session=False)
    )
    sendable = or_(
        Delivery.state == DeliveryState.QUEUED,
        and_(Delivery.state.in_(WAITING_STATES), or_(Delivery.retry_at.is_(None), Delivery.retry_at <= now)),
        and_(Delivery.state == DeliveryState.SENDING, Delivery.claimed_at < now - lease),
    )
    claimed = list(session.scalars(
        update(Delivery)
        .where(among(session, Delivery.id, delivery_ids), sendable)
        .values(state=DeliveryState.SENDING, claimed_at=now, attempts=Delivery.attempts + 1)
        .returning(Delivery.id).execution_options(synchronize_session=False)
    ))
    _expire_loaded(session, delivery_ids)
    return claimed


def _expire_loaded(session: Session, delivery_ids: Sequence[int]) -> None:
    """Expire the rows among ``delivery_ids`` that this session had loaded, after a bulk UPDATE of them.

    Those UPDATEs skip SQLAlchemy's own synchronisation, which for a page looked up a
    thousand identities in the session to find none (a worker's sessions are fresh): a
    third of the CPU of recording a page. This does what it would do, for what is there.
    """
    if not session.identity_map:
        return
    among_ids = set(delivery_ids)
    for row in [row for row in session.identity_map.values() if isinstance(row, Delivery) and row.id in among_ids]:
        session.expire(row)


_JITTER = random.Random()


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failed email is tried again, and how long to wait between tries."""

    max_attempts: int = 5
    base: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(minutes=10)

    def backoff(self, attempts: int, rng: random.Random = _JITTER) -> timedelta:
        """Exponential with jitter: base, twice that, four times ... up to the cap; each between half and all of it."""
        ceiling = min(self.cap.total_seconds(), self.base.total_seconds() * 2 ** max(0, attempts - 1))
        return timedelta(seconds=rng.uniform(ceiling / 2, ceiling))


def record(
    session: Session, results: Sequence[SendResult], *, now: datetime, policy: RetryPolicy
) -> Counter[str]:
    """Record what the mailer said; returns how many rows ended sent, failed (to retry), held and dead."""
    outcomes: Counter[str] = Counter()
    sent = [result.delivery_id for result in results if result.accepted]
    outcomes["sent"] = len(sent)
    if sent:  # the common case, in one statement
        session.execute(update(Delivery).where(among(session, Delivery.id, sent))
                        .values(state=DeliveryState.SENT, sent_at=now, last_error=None)
                        .execution_options(synchronize_session=False))
        _expire_loaded(session, sent)
    for result in results:
        if result.accepted:
            continue
        row = session.get_one(Delivery, result.delivery_id)
        if result.held:
            wait = timedelta(seconds=result.retry_after or policy.cap.total_seconds())
            row.state, row.last_error, row.retry_at = DeliveryState.HELD, result.error, now + wait
            row.attempts = max(0, row.attempts - 1)  # the claim's attempt is given back
        elif result.retryable and row.attempts < policy.max_attempts:
            wait = max(policy.backoff(row.attempts), timedelta(seconds=result.retry_after or 0))
            row.state, row.last_error, row.retry_at = DeliveryState.FAILED, result.error, now + wait
        else:
            row.state, row.last_error = DeliveryState.DEAD, result.error
        outcomes[row.state] += 1
    return outcomes


def confirm_accepted(session: Session, delivery_ids: Sequence[int], *, now: datetime) -> int:
    """Record as sent the rows the provider says it accepted (its Event Webhook); returns how many changed."""
    if not delivery_ids:
        return 0
    pending = [DeliveryState.QUEUED, DeliveryState.SENDING, *WAITING_STATES]
    result = session.execute(update(Delivery).where(among(session, Delivery.id, delivery_ids), Delivery.state.in_(pending))
                             .values(state=DeliveryState.SENT, sent_at=now, last_error=None)
                        .execution_options(synchronize_session=False))
    return cast(CursorResult[Any], result).rowcount


def stalled(session: Session, *, now: datetime, lease: timedelta, limit: int = 1000) -> list[int]:
    """Rows that should have gone by now: queued or failed a while ago, or claimed by a dead worker."""
    overdue = now - lease
    return list(
        session.scalars(
            select(Delivery.id)
            .where(
                or_(
                    and_(Delivery.state == DeliveryState.QUEUED, Delivery.queued_at < overdue),
                    and_(Delivery.state.in_(WAITING_STATES), Delivery.retry_at <= now),
                    and_(Delivery.state == DeliveryState.SENDING, Delivery.claimed_at < overdue),
                )
            )
            .order_by(Delivery.id)
            .limit(limit)
        )
    )


def report_times(session: Session, delivery_ids: Sequence[int]) -> dict[int, datetime]:
    """When the report behind each acknowledgement arrived (for the acknowledgement-latency metric)."""
    rows = session.execute(
        select(Delivery.id, Report.received_at)
        .join(Subscriber, Delivery.subscriber_id == Subscriber.id)
        .join(Report, Subscriber.first_report_id == Report.id)
        .where(among(session, Delivery.id, delivery_ids), Delivery.kind == NotificationKind.ACKNOWLEDGEMENT)
    )
    return dict(rows.all())


def requeue(session: Session, states: Sequence[str], *, now: datetime, incident_id: str | None = None) -> list[int]:
    """Queue failed or dead deliveries again, with a fresh allowance of attempts."""
    query = update(Delivery).where(Delivery.state.in_(list(states)))
    if incident_id:
        query = query.where(Delivery.update_id.in_(select(IncidentUpdate.id).where(IncidentUpdate.incident_id == incident_id)))
    ids = session.scalars(
        query.values(state=DeliveryState.QUEUED, attempts=0, claimed_at=None, queued_at=now).returning(Delivery.id)
    )
    return sorted(ids)
