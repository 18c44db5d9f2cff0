"""Linking a report to an incident and making its reporter a subscriber, once per person."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.storage.models import Delivery, IncidentUpdate, Report, Subscriber


def link_report(
    session: Session, report: Report, incident_id: str, now: datetime, linked_by: str = "matcher"
) -> Subscriber:
    """Attach ``report`` to the incident and return its reporter's subscription (idempotent)."""
    if report.incident_id != incident_id or report.linked_at is None:
        report.incident_id = incident_id
        report.linked_at = now
        report.linked_by = linked_by
    report.link_state = "linked"
    report.candidate_incident_id = None
    subscriber = session.scalars(
        select(Subscriber).where(
            Subscriber.incident_id == incident_id, Subscriber.email == report.email
        )
    ).one_or_none()
    if subscriber is None:
        subscriber = Subscriber(
            incident_id=incident_id,
            email=report.email,
            name=report.name,
            first_report_id=report.id,
            subscribed_at=now,
        )
        session.add(subscriber)
        session.flush()
    return subscriber


def latest_update(session: Session, incident_id: str) -> IncidentUpdate:
    return session.scalars(
        select(IncidentUpdate)
        .where(IncidentUpdate.incident_id == incident_id)
        .order_by(IncidentUpdate.id.desc())
        .limit(1)
    ).one()


def queue_delivery(
    session: Session, update: IncidentUpdate, subscriber: Subscriber, kind: str, now: datetime
) -> None:
    """Queue one email for one person, unless the ledger already has it."""
    exists = session.scalars(
        select(Delivery.id).where(
            Delivery.update_id == update.id, Delivery.subscriber_id == subscriber.id
        )
    ).first()
    if exists is None:
        session.add(
            Delivery(
                update_id=update.id,
                subscriber_id=subscriber.id,
                kind=kind,
                state="queued",
                attempts=0,
                queued_at=now,
            )
        )
        session.flush()


def queued_for(session: Session, subscriber: Subscriber) -> list[int]:
    """Deliveries to this person still waiting to go: re-announced after a redelivery."""
    return list(
        session.scalars(
            select(Delivery.id).where(
                Delivery.subscriber_id == subscriber.id, Delivery.state == "queued"
            )
        )
    )


def has_deliveries(session: Session, subscriber: Subscriber) -> bool:
    query = select(Delivery.id).where(Delivery.subscriber_id == subscriber.id).limit(1)
    return session.scalars(query).first() is not None
