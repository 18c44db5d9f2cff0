"""Addresses that get no more email, and keeping deliveries away from them."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from broadcaster.domain.notifications import DeliveryState
from broadcaster.storage.models import Delivery, Subscriber, Suppression
from broadcaster.storage.upsert import insert_ignoring_duplicates


def suppress(session: Session, email: str, reason: str, now: datetime) -> bool:
    """Stop all email to ``email``; True if it was not suppressed before."""
    row = {"email": email.strip().lower(), "reason": reason, "created_at": now}
    return insert_ignoring_duplicates(session, Suppression, [row], unique=("email",)) == 1


def drop_suppressed(session: Session, delivery_ids: Sequence[int]) -> list[int]:
    """Mark claimed deliveries to suppressed addresses dead; return the ones still to send."""
    blocked = dict(session.execute(
        select(Delivery.id, Suppression.reason)
        .join(Subscriber, Delivery.subscriber_id == Subscriber.id)
        .join(Suppression, Suppression.email == Subscriber.email)
        .where(Delivery.id.in_(delivery_ids))
    ).all())
    for reason in set(blocked.values()):
        ids = [i for i, r in blocked.items() if r == reason]
        session.execute(update(Delivery).where(Delivery.id.in_(ids))
                        .values(state=DeliveryState.DEAD, last_error=f"suppressed: {reason}"))
    return [i for i in delivery_ids if i not in blocked]
