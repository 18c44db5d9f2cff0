"""Read models for people: incident lists, timelines, subscribers and delivery counts."""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broadcaster.domain.notifications import SubscriberSource
from broadcaster.services.cadence import missed_promises
from broadcaster.storage.models import Delivery, Incident, IncidentUpdate, Report, Subscriber, Suppression


@dataclass(frozen=True)
class IncidentSummary:
    incident: Incident
    subscribers: int
    reports: int
    missed_promises: int
    affected: int = 0  # subscribers the engineers added as affected (the others wrote to us)


@dataclass(frozen=True)
class TimelineEntry:
    update: IncidentUpdate
    deliveries: Counter[str]  # "acknowledgement sent": 3, "resolution failed": 1, ...
    provider: Counter[str]  # the mail provider's latest word: "delivered": 120, "deferred": 3, "blocked": 1 ...


def _count(session: Session, column, incident_id: str) -> int:  # noqa: ANN001
    return session.scalar(select(func.count()).where(column == incident_id)) or 0


def summaries(session: Session, *, include_resolved: bool) -> list[IncidentSummary]:
    query = select(Incident).order_by(Incident.declared_at.desc())
    if not include_resolved:
        query = query.where(Incident.status != "resolved")
    return [summary(session, incident) for incident in session.scalars(query)]


def summary(session: Session, incident: Incident) -> IncidentSummary:
    affected = session.scalar(select(func.count()).where(
        Subscriber.incident_id == incident.id, Subscriber.source == SubscriberSource.AFFECTED)) or 0
    return IncidentSummary(
        incident,
        _count(session, Subscriber.incident_id, incident.id),
        _count(session, Report.incident_id, incident.id),
        missed_promises(session, incident.id),
        affected,
    )


def timeline(session: Session, incident_id: str) -> list[TimelineEntry]:
    updates = session.scalars(
        select(IncidentUpdate).where(IncidentUpdate.incident_id == incident_id).order_by(IncidentUpdate.id)
    ).all()
    counts = session.execute(
        select(IncidentUpdate.id, Delivery.kind, Delivery.state, func.count())
        .join(IncidentUpdate, Delivery.update_id == IncidentUpdate.id)
        .where(IncidentUpdate.incident_id == incident_id)
        .group_by(IncidentUpdate.id, Delivery.kind, Delivery.state)
    ).all()
    provider_counts = session.execute(
        select(IncidentUpdate.id, Delivery.provider_status, func.count())
        .join(IncidentUpdate, Delivery.update_id == IncidentUpdate.id)
        .where(IncidentUpdate.incident_id == incident_id, Delivery.provider_status.is_not(None))
        .group_by(IncidentUpdate.id, Delivery.provider_status)
    ).all()
    by_update: dict[int, Counter[str]] = {update.id: Counter() for update in updates}
    for update_id, kind, state, count in counts:
        by_update[update_id][f"{kind.replace('_', ' ')} {state}"] = count
    provider: dict[int, Counter[str]] = {update.id: Counter() for update in updates}
    for update_id, status, count in provider_counts:
        provider[update_id][str(status)] = count
    return [TimelineEntry(update, by_update[update.id], provider[update.id]) for update in updates]


def backlog_linked(session: Session, incident: Incident) -> int:
    """Reports that arrived before the incident was declared and were linked to it."""
    return session.scalar(
        select(func.count()).where(
            Report.incident_id == incident.id, Report.received_at < incident.declared_at
        )
    ) or 0


_SUPPRESSED_BECAUSE = {"unsubscribed": "stopped all email", "bounce": "address bounced", "spamreport": "reported spam"}


@dataclass(frozen=True)
class SubscriberEntry:
    """One subscriber of an incident, and whether (and since when, and why) they no longer get its emails."""

    subscriber: Subscriber
    left_at: datetime | None = None
    why_left: str | None = None

    @property
    def active(self) -> bool:
        return self.why_left is None


def subscribers(session: Session, incident_id: str) -> list[SubscriberEntry]:
    """Everyone who subscribed, with those who left this incident or whose address is suppressed marked so.

    As in the ledger, a suppression (no email at all) wins over leaving this one incident.
    """
    rows = session.execute(
        select(Subscriber, Suppression.reason, Suppression.created_at)
        .outerjoin(Suppression, Suppression.email == Subscriber.email)
        .where(Subscriber.incident_id == incident_id)
        .order_by(Subscriber.id)
    )
    entries = []
    for subscriber, reason, suppressed_at in rows:
        if reason is not None:
            entries.append(SubscriberEntry(subscriber, suppressed_at,
                                           _SUPPRESSED_BECAUSE.get(reason, f"suppressed ({reason})")))
        elif subscriber.unsubscribed_at is not None:
            entries.append(SubscriberEntry(subscriber, subscriber.unsubscribed_at, "left this incident"))
        else:
            entries.append(SubscriberEntry(subscriber))
    return entries


def sent_by_recipient(session: Session, incident_id: str) -> dict[str, Counter[str]]:
    """For each subscriber's address: how many emails of each kind the ledger says were sent."""
    rows = session.execute(
        select(Subscriber.email, Delivery.kind, func.count())
        .join(Delivery, Delivery.subscriber_id == Subscriber.id)
        .where(Subscriber.incident_id == incident_id, Delivery.state == "sent")
        .group_by(Subscriber.email, Delivery.kind)
    ).all()
    result: dict[str, Counter[str]] = {}
    for email, kind, count in rows:
        result.setdefault(email, Counter())[kind] = count
    return result
