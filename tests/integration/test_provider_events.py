"""The mail provider's events on real SQL (SQLite and PostgreSQL): applied once, counted right, latest word kept."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from broadcaster.config import Settings
from broadcaster.mail.event_webhook import read_events
from broadcaster.services import ledger
from broadcaster.services.linking import LinkingModel
from broadcaster.services.provider_events import apply_events
from broadcaster.services.queries import timeline
from broadcaster.storage.models import Delivery, ProviderEventSeen, Suppression
from tests.support.services import LEASE, T0, apply, declared, receive, report

DAY = timedelta(hours=25)


@pytest.fixture
def deliveries(sessions: sessionmaker[Session], database_url: str) -> list[int]:
    """Three acknowledgements, claimed and recorded as sent."""
    model = LinkingModel(Settings(database_url=database_url))
    apply(sessions, model, declared(), T0)
    ids = [receive(sessions, model, report(f"r{n}", f"user{n}@example.com", "CSV upload fails", T0), T0).delivery_ids[0]
           for n in range(3)]
    with sessions.begin() as session:
        ledger.claim(session, ids, now=T0, lease=LEASE, max_attempts=5)
    return ids


def event(kind: str, who: int, delivery_id: int, event_id: str, at: int, **extra: str) -> dict:
    return {"email": f"user{who}@example.com", "event": kind, "delivery_id": str(delivery_id), "sg_event_id": event_id,
            "timestamp": at, **extra}


def apply_raw(sessions: sessionmaker[Session], raw: list[dict], minutes: int = 1):
    with sessions.begin() as session:
        return apply_events(session, read_events(raw)[0], now=T0 + timedelta(minutes=minutes), remember=DAY)


def test_events_are_applied_once_per_sg_event_id_and_counted_right(sessions, deliveries) -> None:
    at = int(T0.timestamp())
    batch = [event("processed", 0, deliveries[0], "e1", at), event("bounce", 1, deliveries[1], "e2", at + 5, type="bounce"),
             event("spamreport", 2, deliveries[2], "e3", at + 9)]
    first = apply_raw(sessions, batch)
    assert (first.events, first.repeated, first.suppressed, first.confirmed, first.recorded) == (3, 0, 2, 3, 2)
    again = apply_raw(sessions, batch + batch[:1], minutes=600)  # SendGrid posted it again, hours later
    assert (again.events, again.repeated, again.suppressed, again.confirmed, again.recorded) == (4, 4, 0, 0, 0)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Suppression)) == 2
        assert session.scalar(select(func.count()).select_from(ProviderEventSeen)) == 3


def test_a_delivery_keeps_the_providers_latest_word_whatever_order_events_arrive_in(sessions, deliveries) -> None:
    at, first = int(T0.timestamp()), deliveries[0]
    apply_raw(sessions, [event("delivered", 0, first, "late", at + 60)])
    apply_raw(sessions, [event("deferred", 0, first, "early", at + 10, response="4.2.2 mailbox full"),
                         event("bounce", 1, deliveries[1], "b1", at + 20, type="blocked", reason="IP reputation")])
    with sessions() as session:
        rows = {d.id: (d.state, d.provider_status, d.provider_detail) for d in session.scalars(select(Delivery))}
        assert rows[first] == ("sent", "delivered", None)
        assert rows[deliveries[1]] == ("sent", "blocked", "IP reputation blocked")
        assert session.scalar(select(func.count()).select_from(Suppression)) == 0  # blocked is temporary
        [entry] = [e for e in timeline(session, "INC-1") if e.provider]
        assert entry.provider == {"delivered": 1, "blocked": 1}


def test_event_ids_are_forgotten_once_no_retry_can_bring_them(sessions, deliveries) -> None:
    at = int(T0.timestamp())
    apply_raw(sessions, [event("delivered", 0, deliveries[0], "old", at)])
    later = apply_raw(sessions, [event("delivered", 1, deliveries[1], "new", at)], minutes=26 * 60)
    assert later.recorded == 1
    with sessions() as session:
        assert list(session.scalars(select(ProviderEventSeen.event_id))) == ["new"]
