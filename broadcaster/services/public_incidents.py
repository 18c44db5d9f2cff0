"""What the public incident pages show and do: the public read model, following by email, private incidents.

The pages (broadcaster/pages) call these with a session; nothing here knows HTTP. What is
public is an incident's title, status, severity, workaround, how to check the fix and its
updates' messages; never who reported it or who follows it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from broadcaster.domain.incidents import OPEN_STATUSES, Status
from broadcaster.domain.notifications import NotificationKind, SubscriberSource
from broadcaster.services import ledger
from broadcaster.services.subscriptions import latest_update
from broadcaster.storage.models import Delivery, Incident, IncidentUpdate, Subscriber

RECENTLY_RESOLVED = timedelta(days=7)


@dataclass(frozen=True)
class PublicUpdate:
    id: int
    kind: str
    status: str
    message: str
    created_at: datetime


@dataclass(frozen=True)
class PublicIncident:
    """One incident as anybody may read it, its updates oldest first."""

    id: str
    title: str
    status: str
    severity: str
    component: str | None
    description: str
    workaround: str
    how_to_verify: str
    declared_at: datetime
    resolved_at: datetime | None
    next_update_at: datetime | None
    private: bool
    updates: tuple[PublicUpdate, ...]

    @property
    def resolved(self) -> bool:
        return self.status == Status.RESOLVED

    @property
    def updated_at(self) -> datetime:
        return self.updates[-1].created_at if self.updates else self.declared_at


def _public(incident: Incident, updates: list[IncidentUpdate]) -> PublicIncident:
    return PublicIncident(
        incident.id, incident.title, incident.status, incident.severity, incident.component, incident.description,
        incident.workaround, incident.how_to_verify, incident.declared_at, incident.resolved_at,
        incident.next_update_at, incident.private,
        tuple(PublicUpdate(u.id, u.kind, u.status, u.message, u.created_at) for u in updates))


def incident(session: Session, incident_id: str) -> PublicIncident | None:
    """The incident and its timeline in two queries; None if there is no such incident."""
    found = session.get(Incident, incident_id)
    if found is None:
        return None
    updates = session.scalars(select(IncidentUpdate).where(IncidentUpdate.incident_id == incident_id)
                              .order_by(IncidentUpdate.id)).all()
    return _public(found, list(updates))


def listing(session: Session, now: datetime, *, limit: int = 100) -> list[PublicIncident]:
    """Public incidents that are open or were resolved in the last 7 days, newest first."""
    incidents = session.scalars(
        select(Incident)
        .where(~Incident.private,
               or_(Incident.status.in_(OPEN_STATUSES), Incident.resolved_at >= now - RECENTLY_RESOLVED))
        .order_by(Incident.declared_at.desc())
        .limit(limit)
    ).all()
    updates: dict[str, list[IncidentUpdate]] = {i.id: [] for i in incidents}
    for update in session.scalars(select(IncidentUpdate).where(IncidentUpdate.incident_id.in_(list(updates)))
                                  .order_by(IncidentUpdate.id)):
        updates[update.incident_id].append(update)
    return [_public(i, updates[i.id]) for i in incidents]


def may_view(session: Session, incident_id: str, delivery_id: int) -> bool:
    """Whether the email ``delivery_id`` (its signed view token checked already) was about this incident."""
    found = session.scalar(select(Subscriber.incident_id).join(Delivery, Delivery.subscriber_id == Subscriber.id)
                           .where(Delivery.id == delivery_id))
    return found == incident_id


def set_private(session: Session, incident_id: str, private: bool) -> bool:
    """Make an incident's page private (token from an email needed) or public; False if there is no such incident."""
    found = session.get(Incident, incident_id)
    if found is None:
        return False
    found.private = private
    return True


def follow(session: Session, incident_id: str, email: str, name: str, now: datetime) -> list[int]:
    """Ask ``email`` to confirm following an open incident: the confirmation's ledger id, to announce.

    Nothing happens (an empty list) when the address already follows it, reported it, left
    it, or is waiting to confirm, or when the incident is resolved or unknown: the page says
    the same in every case, so nobody learns from it who follows what.
    """
    found = session.get(Incident, incident_id)
    if found is None or found.status == Status.RESOLVED:
        return []
    exists = session.scalar(select(func.count()).where(Subscriber.incident_id == incident_id,
                                                       Subscriber.email == email))
    if exists:
        return []
    subscriber = Subscriber(incident_id=incident_id, email=email, name=name, first_report_id=None,
                            source=SubscriberSource.FOLLOWER, confirmed=False, subscribed_at=now)
    session.add(subscriber)
    session.flush()
    wanted = ledger.Wanted(latest_update(session, incident_id).id, subscriber.id, NotificationKind.FOLLOW_CONFIRMATION)
    return ledger.queue(session, [wanted], now=now)


@dataclass(frozen=True)
class Confirmation:
    incident_id: str
    incident_title: str
    email: str


def confirmation(session: Session, delivery_id: int) -> Confirmation | None:
    """Who a follow-confirmation email (its signed token checked already) was for; None if not one of ours."""
    row = session.execute(
        select(Incident.id, Incident.title, Subscriber.email)
        .join(Subscriber, Subscriber.incident_id == Incident.id)
        .join(Delivery, Delivery.subscriber_id == Subscriber.id)
        .where(Delivery.id == delivery_id, Delivery.kind == NotificationKind.FOLLOW_CONFIRMATION)
    ).one_or_none()
    return Confirmation(*row) if row else None


def confirm(session: Session, delivery_id: int, now: datetime) -> Confirmation | None:
    """Make the person a subscriber from now on (a second use changes nothing)."""
    found = confirmation(session, delivery_id)
    if found is None:
        return None
    subscriber = session.scalars(select(Subscriber).join(Delivery, Delivery.subscriber_id == Subscriber.id)
                                 .where(Delivery.id == delivery_id)).one()
    if not subscriber.confirmed:
        subscriber.confirmed, subscriber.subscribed_at = True, now
    return found
