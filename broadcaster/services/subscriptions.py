"""Linking reports to incidents and making their reporters subscribers, once per person.

Everything here works on a batch (the link-reports processor decides up to a few
hundred reports in one transaction), in a fixed number of statements per batch.
Subscribers are written with plain INSERT and UPDATE statements, not as ORM objects:
at a thousand reports a second, making, adding and flushing a Subscriber each cost
more than the database's work (bench/ack_latency.py --profile).
"""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol, cast

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.orm import Session

from broadcaster.domain.notifications import DeliveryState, NotificationKind, SubscriberSource
from broadcaster.services import ledger
from broadcaster.storage.models import Delivery, IncidentUpdate, Subscriber
from broadcaster.storage.upsert import among

SUBSCRIBERS = cast(Table, Subscriber.__table__)
DELIVERIES = cast(Table, Delivery.__table__)
UPDATES = cast(Table, IncidentUpdate.__table__)


class Reported(Protocol):
    """What linking reads and marks on a report: a stored one (a Report) or one being received, not stored yet."""

    id: str
    email: str
    name: str
    text: str
    time_zone: str | None
    locale: str | None
    incident_id: str | None
    linked_at: datetime | None
    linked_by: str | None
    link_state: str
    candidate_incident_id: str | None


@dataclass(frozen=True)
class Link:
    """This report is about this incident, as decided by ``linked_by`` (the matcher or an engineer)."""

    report: Reported
    incident_id: str
    linked_by: str = "matcher"


class Subscribed(NamedTuple):
    """Each link's subscriber id, and which of them were subscribed just now (no email can be queued for them yet)."""

    ids: list[int]
    new: frozenset[int]


def link_reports(session: Session, links: Sequence[Link], now: datetime) -> Subscribed:
    """Attach each report to its incident and subscribe its reporter (idempotent)."""
    mark_linked(links, now)
    return subscribe(session, links, now)


def mark_linked(links: Sequence[Link], now: datetime) -> None:
    """Mark each report as its incident's; a report already linked to it keeps when and by whom."""
    for link in links:
        report = link.report
        if report.incident_id != link.incident_id or report.linked_at is None:
            report.incident_id, report.linked_at, report.linked_by = link.incident_id, now, link.linked_by
        report.link_state = "linked"
        report.candidate_incident_id = None


def subscribe(session: Session, links: Sequence[Link], now: datetime) -> Subscribed:
    """Each link's reporter as a subscriber of its incident; made or completed as needed (idempotent).

    The reports must be stored (a subscriber names its first report). Per person, the
    first of their reports in ``links`` is the one they subscribed with, and the last
    that says where they read times sets it.
    """
    if not links:
        return Subscribed([], frozenset())
    people: dict[tuple[str, str], list[Reported]] = {}
    for link in links:
        people.setdefault((link.incident_id, link.report.email), []).append(link.report)
    ids = _complete_existing(session, people)
    new = {}
    if len(ids) < len(people):
        rows = [_new_subscriber(person[0], reports, now) for person, reports in people.items() if person not in ids]
        statement = insert(SUBSCRIBERS).returning(SUBSCRIBERS.c.id, SUBSCRIBERS.c.incident_id, SUBSCRIBERS.c.email)
        new = {(incident_id, email): id_ for id_, incident_id, email in session.execute(statement, rows)}
    ids |= new
    return Subscribed([ids[link.incident_id, link.report.email] for link in links], frozenset(new.values()))


def _complete_existing(session: Session, people: Mapping[tuple[str, str], Sequence[Reported]]) -> dict[tuple[str, str], int]:
    """The ids of the people already subscribed, each completed with what their reports add."""
    c = SUBSCRIBERS.c
    rows = session.execute(
        select(c.id, c.incident_id, c.email, c.first_report_id, c.time_zone, c.locale).where(
            c.incident_id.in_({incident for incident, _ in people}), c.email.in_({email for _, email in people}))
    )
    ids = {}
    for id_, incident_id, email, first_report_id, time_zone, locale in rows:
        reports = people.get((incident_id, email))
        if reports is None:  # the IN lists matched another incident's subscriber of the same address
            continue
        ids[incident_id, email] = id_
        changes = _reader_time(reports, time_zone, locale)
        if first_report_id is None:  # a follower or affected person who now reports it
            changes |= {"first_report_id": reports[0].id, "confirmed": True, "source": SubscriberSource.REPORTER}
        if changes:
            session.execute(update(SUBSCRIBERS).where(c.id == id_).values(changes))
    return ids


def _new_subscriber(incident_id: str, reports: Sequence[Reported], now: datetime) -> dict[str, Any]:
    first = reports[0]
    return {"incident_id": incident_id, "email": first.email, "name": first.name, "first_report_id": first.id,
            "subscribed_at": now, "confirmed": True, "source": SubscriberSource.REPORTER,
            "time_zone": None, "locale": None} | _reader_time(reports, None, None)


def _reader_time(reports: Sequence[Reported], time_zone: str | None, locale: str | None) -> dict[str, Any]:
    """Where the reports say their reporter reads times, where it differs from what is known.

    A report that does not say changes nothing; of several that do, the last one counts.
    """
    said_zone = next((r.time_zone for r in reversed(reports) if r.time_zone), None)
    said_locale = next((r.locale for r in reversed(reports) if r.locale), None)
    changes: dict[str, Any] = {}
    if said_zone and said_zone != time_zone:
        changes["time_zone"] = said_zone
    if said_locale and said_locale != locale:
        changes["locale"] = said_locale
    return changes


def latest_update(session: Session, incident_id: str) -> IncidentUpdate:
    return session.scalars(
        select(IncidentUpdate)
        .where(IncidentUpdate.incident_id == incident_id)
        .order_by(IncidentUpdate.id.desc())
        .limit(1)
    ).one()


def queue_first_emails(session: Session, subscribers: Mapping[int, str], kinds: Mapping[str, NotificationKind],
                       now: datetime, *, new: Collection[int] = ()) -> None:
    """Queue their incident's latest update for each subscriber who has no email yet.

    ``subscribers`` maps each subscriber's id to their incident's; ``kinds`` says, per
    incident, which email a new subscriber gets (an acknowledgement while it is open,
    a "fixed, please try again" reply once it is resolved). Those in ``new`` were
    subscribed in this transaction, so they are known to have none.
    """
    known = [s for s in subscribers if s not in new]
    have = set(session.scalars(select(DELIVERIES.c.subscriber_id).where(among(session, DELIVERIES.c.subscriber_id, known))
                               .distinct())) if known else set()
    wanted = [(s, incident_id) for s, incident_id in subscribers.items() if s not in have]
    latest = _latest_updates(session, {incident_id for _, incident_id in wanted})
    ledger.queue(session, [ledger.Wanted(latest[i], s, kinds[i]) for s, i in wanted], now=now)


def _latest_updates(session: Session, incident_ids: Collection[str]) -> dict[str, int]:
    """Each incident's latest update id, in one statement."""
    if not incident_ids:
        return {}
    c = UPDATES.c
    rows = session.execute(select(c.incident_id, func.max(c.id)).where(c.incident_id.in_(list(incident_ids)))
                           .group_by(c.incident_id))
    return {incident_id: update_id for incident_id, update_id in rows}


def queued_for(session: Session, subscriber_ids: Collection[int]) -> dict[int, list[int]]:
    """Deliveries to these people still waiting to go, by subscriber: re-announced after a redelivery.

    Found by subscriber and sorted out here: a person has a handful of deliveries, while
    the database, asked for the queued ones too, may read every queued row (a big fan-out).
    """
    c = DELIVERIES.c
    rows = session.execute(select(c.subscriber_id, c.id, c.state).where(among(session, c.subscriber_id, list(subscriber_ids)))
                           .order_by(c.id))
    waiting: dict[int, list[int]] = {}
    for subscriber_id, delivery_id, state in rows:
        if state == DeliveryState.QUEUED:
            waiting.setdefault(subscriber_id, []).append(delivery_id)
    return waiting
