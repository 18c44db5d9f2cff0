"""What an unsubscribe link does: find whom it is for, then stop that incident's emails or all of them, or undo it.

Leaving one incident marks its subscription (the ledger kills that subscription's later
deliveries when it claims them); stopping everything suppresses the address, as bounces do.
Undoing clears the mark, or lifts a suppression the person asked for (never a bounce or a
spam report: those were the mail provider's word, not theirs).
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from broadcaster.domain.unsubscribe import AddressToken, Claim, Scope
from broadcaster.services.suppression import suppress
from broadcaster.storage.models import Delivery, Incident, Subscriber, Suppression

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


@dataclass(frozen=True)
class Standing:
    """What a person gets now: this incident's emails (unless they left it), any email at all (unless suppressed)."""

    recipient: Recipient
    left_incident: bool
    suppressed_because: str | None  # "unsubscribed" (their choice), "bounce", "spamreport" ...; None: not suppressed

    @property
    def stopped_everything(self) -> bool:
        return self.suppressed_because is not None


def standing(session: Session, claim: Claim) -> Standing | None:
    """The manage page's facts for a verified token; None if its email is not in this database."""
    found = recipient(session, claim)
    if found is None:
        return None
    left = found.subscriber_id is not None and session.scalar(
        select(Subscriber.unsubscribed_at).where(Subscriber.id == found.subscriber_id)) is not None
    reason = session.scalar(select(Suppression.reason).where(Suppression.email == found.email))
    return Standing(found, left, reason)


def resume(session: Session, claim: Claim, scope: Scope) -> Recipient | None:
    """Undo what the person chose: this incident's emails again, or every email if they (not a bounce) stopped them."""
    found = recipient(session, claim)
    if found is None:
        return None
    if scope is Scope.EVERYTHING:
        session.execute(delete(Suppression).where(Suppression.email == found.email, Suppression.reason == REASON))
    elif found.subscriber_id is not None:
        session.execute(update(Subscriber).where(Subscriber.id == found.subscriber_id).values(unsubscribed_at=None))
    return found
