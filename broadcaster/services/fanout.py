"""Fan-out: turn one published update into one queued ledger row per subscriber, page by page."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broadcaster.domain.events import UpdatePublished
from broadcaster.domain.notifications import kind_for_update
from broadcaster.services import ledger
from broadcaster.storage.models import Delivery, IncidentUpdate, Subscriber


@dataclass(frozen=True)
class Page:
    delivery_ids: list[int]
    last_subscriber_id: int | None  # None when there are no more subscribers


def queue_page(
    session: Session, job: UpdatePublished, *, after_subscriber_id: int, size: int, now: datetime
) -> Page:
    """Queue the update for the next ``size`` subscribers; the unique key absorbs repeats.

    Subscribers who joined after the update was written are skipped: their own
    acknowledgement already told them everything up to it.
    """
    update = session.get_one(IncidentUpdate, job.update_id)
    subscriber_ids = list(
        session.scalars(
            select(Subscriber.id)
            .where(
                Subscriber.incident_id == update.incident_id,
                Subscriber.id > after_subscriber_id,
                Subscriber.subscribed_at <= update.created_at,
                Subscriber.confirmed,  # a follower who has not confirmed gets nothing but the confirmation
            )
            .order_by(Subscriber.id)
            .limit(size)
        )
    )
    if not subscriber_ids:
        return Page([], None)
    kind = kind_for_update(update.kind)
    queued = ledger.queue(session, [ledger.Wanted(update.id, s, kind) for s in subscriber_ids], now=now)
    return Page(queued, subscriber_ids[-1])


def catch_up(session: Session, *, now: datetime, settle: timedelta, limit: int = 1000) -> list[int]:
    """Queue each incident's latest update for subscribers who have nothing that recent.

    The normal paths (fan-out, acknowledgements) cover everyone; this closes the gaps
    they can leave with several workers, e.g. a reporter subscribed on one worker while
    an update was being fanned out on another, and a lost fan-out job. It looks only at
    subscribers older than ``settle``, so it does not race the normal paths.
    """
    latest = (
        select(IncidentUpdate.incident_id, func.max(IncidentUpdate.id).label("update_id"))
        .group_by(IncidentUpdate.incident_id)
        .subquery()
    )
    newer = (
        select(Delivery.id)
        .join(IncidentUpdate, Delivery.update_id == IncidentUpdate.id)
        .where(Delivery.subscriber_id == Subscriber.id, IncidentUpdate.id >= latest.c.update_id)
    )
    missing = session.execute(
        select(Subscriber.id, latest.c.update_id)
        .join(latest, latest.c.incident_id == Subscriber.incident_id)
        .where(Subscriber.subscribed_at < now - settle, Subscriber.confirmed, ~newer.exists())
        .limit(limit)
    ).all()
    if not missing:
        return []
    kinds = dict(session.execute(select(IncidentUpdate.id, IncidentUpdate.kind)
                                 .where(IncidentUpdate.id.in_({u for _, u in missing}))).all())
    wanted = [ledger.Wanted(update_id, subscriber_id, kind_for_update(kinds[update_id]))
              for subscriber_id, update_id in missing]
    return ledger.queue(session, wanted, now=now)
