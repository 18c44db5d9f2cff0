"""What an unsubscribe link does: find whom it is for, then stop that incident's emails or all of them.

Leaving one incident marks its subscription (the ledger kills that subscription's later
deliveries when it claims them); stopping everything suppresses the address, as bounces do.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from broadcaster.domain.unsubscribe import AddressToken, Claim, Scope
from broadcaster.services.suppression import suppress
from broadcaster.storage.models import Delivery, Incident, Subscriber

REASON = "unsubscribed"


@dataclass(frozen=True)
class Recipient:
    """Whom a verified link is for; an old-format link names an address and no subscription."""

    email: str
    subscriber_id: int | None = None
    incident_title: str | None = None


def recipient(session: Session, claim: Claim) -> Recipient | None:
    """The person behind a verified token; None if its delivery is not in this database."""
    if isinstance(claim, AddressToken):
        return Recipient(claim.email)
    row = session.execute(
        select(Subscriber.email, Subscriber.id, Incident.title)
        .join(Delivery, Delivery.subscriber_id == Subscriber.id)
        .join(Incident, Subscriber.incident_id == Incident.id)
        .where(Delivery.id == claim.delivery_id)
    ).one_or_none()
    return Recipient(*row) if row else None


def unsubscribe(session: Session, claim: Claim, now: datetime) -> Recipient | None:
    """Do what a verified token says; its recipient, or None (nothing done) if unknown here."""
    found = recipient(session, claim)
    if found is None:
        return None
    if claim.scope is Scope.EVERYTHING:
        suppress(session, found.email, REASON, now)
    elif found.subscriber_id is not None:  # always so: only new-format tokens have the incident scope
        session.execute(update(Subscriber)
                        .where(Subscriber.id == found.subscriber_id, Subscriber.unsubscribed_at.is_(None))
                        .values(unsubscribed_at=now))
    return found
