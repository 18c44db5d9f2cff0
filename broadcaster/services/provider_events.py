"""What the mail provider tells us after a send (its Event Webhook), applied once per event.

SendGrid posts events in batches and posts a batch again when our answer did not reach
it, so the same event can arrive twice, days apart: each ``sg_event_id`` is applied once
and remembered for as long as a retry can come. Events arrive out of order too (a
``delivered`` before its ``processed``); a delivery keeps the provider's latest word.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from broadcaster.mail.event_webhook import ProviderEvent
from broadcaster.services.ledger import confirm_accepted
from broadcaster.services.suppression import suppress
from broadcaster.storage.models import Delivery, ProviderEventSeen
from broadcaster.storage.upsert import insert_ignoring_duplicates


@dataclass(frozen=True)
class Applied:
    """How a webhook post changed things, as the response tells SendGrid (and tests)."""

    events: int
    repeated: int  # already applied before (same sg_event_id)
    suppressed: int  # addresses newly suppressed
    confirmed: int  # deliveries the ledger had not recorded as sent
    recorded: int  # deliveries whose provider status changed


def apply_events(session: Session, events: Sequence[ProviderEvent], *, now: datetime, remember: timedelta) -> Applied:
    """Apply the events not applied before; forget event ids older than ``remember``."""
    fresh = _first_time(session, events, now)
    session.execute(delete(ProviderEventSeen).where(ProviderEventSeen.received_at < now - remember))
    suppressed = sum(suppress(session, e.email, reason, now) for e in fresh if (reason := e.suppression))
    confirmed = confirm_accepted(session, sorted({e.delivery_id for e in fresh if e.delivery_id}), now=now)
    recorded = sum(_record(session, event) for event in fresh if event.delivery_id and event.kind != "processed")
    return Applied(len(events), len(events) - len(fresh), suppressed, confirmed, recorded)


def _first_time(session: Session, events: Sequence[ProviderEvent], now: datetime) -> list[ProviderEvent]:
    """The events whose id was never seen (events without an id are always fresh: applying them is idempotent)."""
    ids = list({e.event_id for e in events if e.event_id})
    seen = set(session.scalars(select(ProviderEventSeen.event_id).where(ProviderEventSeen.event_id.in_(ids))))
    insert_ignoring_duplicates(session, ProviderEventSeen, [{"event_id": i, "received_at": now} for i in ids
                                                            if i not in seen], unique=("event_id",))
    fresh = []
    for event in events:
        if event.event_id is None or event.event_id not in seen:
            fresh.append(event)
            if event.event_id:
                seen.add(event.event_id)
    return fresh


def _record(session: Session, event: ProviderEvent) -> bool:
    """Keep the provider's word on the delivery, unless a later event is already recorded."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.id == event.delivery_id,
               or_(Delivery.provider_status_at.is_(None), Delivery.provider_status_at <= event.at))
        .values(provider_status=event.kind, provider_status_at=event.at, provider_detail=event.detail or None)
        .returning(Delivery.id)
    )
    return result.first() is not None

