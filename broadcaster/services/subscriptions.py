"""Linking reports to incidents and making their reporters subscribers, once per person.

Everything here works on a batch (the link-reports processor decides up to a few
hundred reports in one transaction), in a fixed number of statements per batch.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.domain.notifications import DeliveryState, NotificationKind, SubscriberSource
from broadcaster.services import ledger
from broadcaster.storage.models import Delivery, IncidentUpdate, Report, Subscriber


@dataclass(frozen=True)
class Link:
    """This report is about this incident, as decided by ``linked_by`` (the matcher or an engineer)."""

    report: Report
    incident_id: str
    linked_by: str = "matcher"


def link_reports(session: Session, links: Sequence[Link], now: datetime) -> list[Subscriber]:
    """Attach each report to its incident and return its reporter's subscription (idempotent)."""
    if not links:
        return []
    for link in links:
        _mark_linked(link, now)
    wanted = {(link.incident_id, link.report.email) for link in links}
    existing = session.scalars(
        select(Subscriber).where(
            Subscriber.incident_id.in_({incident for incident, _ in wanted}),
            Subscriber.email.in_({email for _, email in wanted}),
        )
    )
    found = {(s.incident_id, s.email): s for s in existing if (s.incident_id, s.email) in wanted}
    for link in links:
        key = (link.incident_id, link.report.email)
        if key in found and found[key].first_report_id is None:  # a follower or affected person who now reports it
            found[key].first_report_id, found[key].confirmed = link.report.id, True
            found[key].source = SubscriberSource.REPORTER
        if key not in found:
            found[key] = Subscriber(incident_id=link.incident_id, email=link.report.email, name=link.report.name,
                                    first_report_id=link.report.id, subscribed_at=now)
            session.add(found[key])
        _keep_reader_time(found[key], link.report)
    session.flush()
    return [found[(link.incident_id, link.report.email)] for link in links]


def _keep_reader_time(subscriber: Subscriber, report: Report) -> None:
    """A report that says where its reporter reads times sets it for them; one that does not changes nothing."""
    if report.time_zone:
        subscriber.time_zone = report.time_zone
    if report.locale:
        subscriber.locale = report.locale


def _mark_linked(link: Link, now: datetime) -> None:
    report = link.report
    if report.incident_id != link.incident_id or report.linked_at is None:
        report.incident_id, report.linked_at, report.linked_by = link.incident_id, now, link.linked_by
    report.link_state = "linked"
    report.candidate_incident_id = None


def latest_update(session: Session, incident_id: str) -> IncidentUpdate:
    return session.scalars(
        select(IncidentUpdate)
        .where(IncidentUpdate.incident_id == incident_id)
        .order_by(IncidentUpdate.id.desc())
        .limit(1)
    ).one()


def queue_first_emails(
    session: Session, subscribers: Sequence[Subscriber], kinds: Mapping[str, NotificationKind], now: datetime
) -> None:
    """Queue their incident's latest update for each subscriber who has no email yet.

    ``kinds`` says, per incident, which email a new subscriber gets (an acknowledgement
    while it is open, a "fixed, please try again" reply once it is resolved).
    """
    unique = list({s.id: s for s in subscribers}.values())
    have = set(session.scalars(
        select(Delivery.subscriber_id).where(Delivery.subscriber_id.in_([s.id for s in unique])).distinct()
    ))
    latest: dict[str, IncidentUpdate] = {}
    wanted = []
    for subscriber in unique:
        if subscriber.id in have:
            continue
        incident_id = subscriber.incident_id
        update = latest.get(incident_id) or latest.setdefault(incident_id, latest_update(session, incident_id))
        wanted.append(ledger.Wanted(update.id, subscriber.id, kinds[incident_id]))
    ledger.queue(session, wanted, now=now)


def queued_for(session: Session, subscribers: Sequence[Subscriber]) -> dict[int, list[int]]:
    """Deliveries to these people still waiting to go, by subscriber: re-announced after a redelivery."""
    rows = session.execute(
        select(Delivery.subscriber_id, Delivery.id)
        .where(Delivery.subscriber_id.in_({s.id for s in subscribers}), Delivery.state == DeliveryState.QUEUED)
        .order_by(Delivery.id)
    )
    waiting: dict[int, list[int]] = {}
    for subscriber_id, delivery_id in rows:  # the IN matched only rows with a subscriber
        waiting.setdefault(cast(int, subscriber_id), []).append(delivery_id)
    return waiting
