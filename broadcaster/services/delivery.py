"""Sending queued ledger rows: claim them, compose each person's email, send, record.

A row is claimed (queued -> sending) in its own transaction before anything is sent,
so two workers never send the same row. A worker that dies mid-send leaves rows in
``sending``; after the lease they are queued again (:func:`stalled`). The one window
for a duplicate is a crash after the API accepted a batch and before the ledger
recorded it: at most one batch.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, joinedload

from broadcaster.domain.email import OutgoingEmail, SendResult
from broadcaster.domain.notifications import DeliveryState, NotificationKind
from broadcaster.messages.compose import EmailFacts, Sender, compose_group
from broadcaster.services.suppression import drop_suppressed
from broadcaster.storage.models import Delivery, Incident, IncidentUpdate, Report, Subscriber


def claim(
    session: Session, delivery_ids: Sequence[int], *, now: datetime, lease: timedelta
) -> list[int]:
    """Mark the sendable rows among ``delivery_ids`` as ours; return the ones we got."""
    sendable = or_(
        Delivery.state == DeliveryState.QUEUED,
        and_(Delivery.state == DeliveryState.FAILED, or_(Delivery.retry_at.is_(None), Delivery.retry_at <= now)),
        and_(Delivery.state == DeliveryState.SENDING, Delivery.claimed_at < now - lease),
    )
    claimed = session.scalars(
        update(Delivery)
        .where(Delivery.id.in_(delivery_ids), sendable)
        .values(state=DeliveryState.SENDING, claimed_at=now, attempts=Delivery.attempts + 1)
        .returning(Delivery.id)
    )
    return sorted(drop_suppressed(session, list(claimed)))


_FACT_COLUMNS = {  # EmailFacts field: where it is stored
    "delivery_id": Delivery.id, "kind": Delivery.kind, "to_email": Subscriber.email, "to_name": Subscriber.name,
    "report_text": Report.text, "reported_at": Report.received_at, "incident_id": Incident.id,
    "incident_title": Incident.title, "status": IncidentUpdate.status, "description": Incident.description,
    "workaround": Incident.workaround, "update_message": IncidentUpdate.message, "update_at": IncidentUpdate.created_at,
    "next_update_at": IncidentUpdate.next_update_at, "how_to_verify": Incident.how_to_verify,
    "update_key": IncidentUpdate.id,
}


def compose_claimed(session: Session, delivery_ids: Sequence[int], sender: Sender) -> list[OutgoingEmail]:
    """Each claimed row's email; rows for the same update and kind are rendered once and filled per person.

    The facts are read as plain column tuples in one joined query: at 1,000 rows a page,
    building ORM objects for five tables cost more than everything else in a send.
    """
    rows = session.execute(
        select(*(column.label(field) for field, column in _FACT_COLUMNS.items()))
        .join(IncidentUpdate, Delivery.update_id == IncidentUpdate.id)
        .join(Incident, IncidentUpdate.incident_id == Incident.id)
        .join(Subscriber, Delivery.subscriber_id == Subscriber.id)
        .join(Report, Subscriber.first_report_id == Report.id)
        .where(Delivery.id.in_(delivery_ids))
        .order_by(Delivery.id)
    )
    groups: dict[tuple[str, str], list[EmailFacts]] = {}
    for row in rows.mappings():
        facts = EmailFacts(**{**row, "kind": NotificationKind(row["kind"]), "update_key": str(row["update_key"])})
        groups.setdefault((facts.update_key, facts.kind), []).append(facts)
    return [email for group in groups.values() for email in compose_group(group, sender)]


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failed email is tried again, and how long to wait between tries."""

    max_attempts: int = 5
    base: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(minutes=10)

    def backoff(self, attempts: int, rng: random.Random = random.Random()) -> timedelta:
        """Exponential with jitter: base, twice that, four times ... up to the cap; each between half and all of it."""
        ceiling = min(self.cap.total_seconds(), self.base.total_seconds() * 2 ** max(0, attempts - 1))
        return timedelta(seconds=rng.uniform(ceiling / 2, ceiling))


def record(
    session: Session, results: Sequence[SendResult], *, now: datetime, policy: RetryPolicy
) -> None:
    sent = [result.delivery_id for result in results if result.accepted]
    if sent:  # the common case, in one statement
        session.execute(update(Delivery).where(Delivery.id.in_(sent))
                        .values(state=DeliveryState.SENT, sent_at=now, last_error=None))
    for result in results:
        if result.accepted:
            continue
        row = session.get_one(Delivery, result.delivery_id)
        if result.retryable and row.attempts < policy.max_attempts:
            wait = max(policy.backoff(row.attempts), timedelta(seconds=result.retry_after or 0))
            row.state, row.last_error, row.retry_at = DeliveryState.FAILED, result.error, now + wait
        else:
            row.state, row.last_error = DeliveryState.DEAD, result.error


def confirm_accepted(session: Session, delivery_ids: Sequence[int], *, now: datetime) -> int:
    """Record as sent the rows the provider says it accepted (its Event Webhook); returns how many changed."""
    if not delivery_ids:
        return 0
    pending = [DeliveryState.QUEUED, DeliveryState.SENDING, DeliveryState.FAILED]
    result = session.execute(update(Delivery).where(Delivery.id.in_(delivery_ids), Delivery.state.in_(pending))
                             .values(state=DeliveryState.SENT, sent_at=now, last_error=None))
    return result.rowcount


def stalled(session: Session, *, now: datetime, lease: timedelta, limit: int = 1000) -> list[int]:
    """Rows that should have gone by now: queued or failed a while ago, or claimed by a dead worker."""
    overdue = now - lease
    return list(
        session.scalars(
            select(Delivery.id)
            .where(
                or_(
                    and_(Delivery.state == DeliveryState.QUEUED, Delivery.queued_at < overdue),
                    and_(Delivery.state == DeliveryState.FAILED, Delivery.retry_at <= now),
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
        .where(Delivery.id.in_(delivery_ids), Delivery.kind == NotificationKind.ACKNOWLEDGEMENT)
    )
    return dict(rows.all())


def troubled(session: Session, states: Sequence[str], limit: int = 200) -> list[Delivery]:
    """Failed (retrying) and dead deliveries, newest first, with who and what they were for."""
    return list(
        session.scalars(
            select(Delivery)
            .where(Delivery.state.in_(list(states)))
            .options(joinedload(Delivery.subscriber), joinedload(Delivery.update))
            .order_by(Delivery.id.desc())
            .limit(limit)
        )
    )


def requeue(session: Session, states: Sequence[str], *, now: datetime, incident_id: str | None = None) -> list[int]:
    """Queue failed or dead deliveries again, with a fresh allowance of attempts."""
    query = update(Delivery).where(Delivery.state.in_(list(states)))
    if incident_id:
        query = query.where(Delivery.update_id.in_(select(IncidentUpdate.id).where(IncidentUpdate.incident_id == incident_id)))
    ids = session.scalars(
        query.values(state=DeliveryState.QUEUED, attempts=0, claimed_at=None, queued_at=now).returning(Delivery.id)
    )
    return sorted(ids)
