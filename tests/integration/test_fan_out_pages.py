"""Fan-out pages (issue 17): an update split into pages that any worker may queue, each person once, on both databases."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from broadcaster.domain.events import IncidentUpdated, UpdatePublished
from broadcaster.domain.unsubscribe import DeliveryToken, Scope
from broadcaster.services import ledger
from broadcaster.services.fanout import catch_up, claim_page, page_bounds, spread_size
from broadcaster.services.suppression import suppress
from broadcaster.services.unsubscribe import unsubscribe
from broadcaster.storage.models import Delivery, IncidentUpdate, Subscriber
from tests.support.services import LEASE, RULES, T0, apply, declared, receive, report

LATER = T0 + timedelta(minutes=5)


def updated_incident(sessions, model, reporters: int) -> int:
    """INC-1 declared, ``reporters`` people subscribed by their reports, and an update (its id) written after."""
    apply(sessions, model, declared(), T0)
    for n in range(reporters):
        receive(sessions, model, report(f"r{n}", f"user{n}@example.com", "CSV upload fails", T0), T0)
    apply(sessions, model, IncidentUpdated("u1", "INC-1", LATER, "Testing a fix.", LATER + timedelta(hours=1)), LATER)
    with sessions() as session:
        return max(session.scalars(select(IncidentUpdate.id)))


def test_pages_cover_every_subscriber_once_in_any_order_and_a_repeated_page_adds_nothing(sessions, model) -> None:
    update_id, later = updated_incident(sessions, model, 7), LATER
    with sessions() as session:
        pages = page_bounds(session, UpdatePublished("INC-1", update_id), size=3)
    assert [(p.page, p.through_subscriber_id is None) for p in pages] == [(0, False), (1, False), (2, True)]
    assert pages[1].after_subscriber_id == pages[0].through_subscriber_id
    claimed: list[int] = []
    for page in reversed(pages * 2):  # out of order, each twice: as two workers and a redelivery may
        with sessions.begin() as session:
            claimed += claim_page(session, page, after_subscriber_id=page.after_subscriber_id, size=3, now=later,
                                  rules=RULES).delivery_ids
    with sessions() as session:
        progress = session.scalar(select(func.count()).where(Delivery.update_id == update_id)) or 0
    assert progress == 7 and len(claimed) == len(set(claimed)) == 7  # the repeats claimed nobody a second time


def test_a_sending_worker_claims_its_page_as_it_queues_it_and_a_dead_one_leaves_it_to_the_lease(sessions, model) -> None:
    """``claim_page``: the rows go in claimed by the worker that sends them; a second worker (a redelivered
    page) gets none of them while the lease runs, and all of them once it has run out (the first one died)."""
    update_id, later = updated_incident(sessions, model, 4), LATER
    with sessions() as session:
        page = page_bounds(session, UpdatePublished("INC-1", update_id), size=10)[0]

    def claim(now: datetime) -> list[int]:
        with sessions.begin() as session:
            return claim_page(session, page, after_subscriber_id=0, size=10, now=now, rules=RULES).delivery_ids

    first = claim(later)
    with sessions() as session:
        rows = session.execute(select(Delivery.state, Delivery.attempts, Delivery.claimed_at)
                               .where(Delivery.id.in_(first))).all()
    assert len(first) == 4 and set(rows) == {("sending", 1, later)}
    assert claim(later + timedelta(seconds=1)) == []  # the first worker is still sending them
    assert claim(later + LEASE + timedelta(seconds=1)) == first  # it died: the page is sent again, by whoever has it
    with sessions() as session:
        assert set(session.scalars(select(Delivery.attempts).where(Delivery.id.in_(first)))) == {2}


@pytest.mark.parametrize("way", ["claimed as inserted", "queued by the sweep, then claimed"])
def test_a_page_skips_the_suppressed_and_those_who_left_with_the_reasons_a_claim_gives(sessions, model, way) -> None:
    """``claim_page`` decides the skips in its insert; the result is the one ``ledger.claim`` gives rows queued
    another way (here by ``catch_up``, then announced and claimed by the deliver processor)."""
    update_id = updated_incident(sessions, model, 4)
    with sessions.begin() as session:
        suppress(session, "user0@example.com", "bounce", LATER)
        first_email = select(Delivery.id).join(Subscriber, Delivery.subscriber_id == Subscriber.id)
        acknowledged = session.scalars(first_email.where(Subscriber.email == "user1@example.com")).one()
        unsubscribe(session, DeliveryToken(acknowledged, Scope.INCIDENT), LATER)
        page = page_bounds(session, UpdatePublished("INC-1", update_id), size=10)[0]
    with sessions.begin() as session:
        if way == "claimed as inserted":
            sent = claim_page(session, page, after_subscriber_id=0, size=10, now=LATER, rules=RULES).delivery_ids
        else:
            queued = catch_up(session, now=LATER, settle=timedelta(minutes=1))
            assert len(queued) == 4
            sent = ledger.claim(session, queued, now=LATER, **RULES._asdict())
    with sessions() as session:
        rows = session.execute(select(Subscriber.email, Delivery.id, Delivery.state, Delivery.last_error)
                               .join(Subscriber, Delivery.subscriber_id == Subscriber.id)
                               .where(Delivery.update_id == update_id)).all()
    assert {email: (state, why) for email, _, state, why in rows} == {
        "user0@example.com": ("skipped", "suppressed: bounce"),
        "user1@example.com": ("skipped", "unsubscribed from this incident"),
        "user2@example.com": ("sending", None), "user3@example.com": ("sending", None)}
    assert sorted(sent) == sorted(i for _, i, state, _ in rows if state == "sending")


def test_a_large_fan_out_gets_large_pages_and_a_smaller_one_enough_pages_for_every_worker() -> None:
    assert spread_size(1_000_000, 5000) == 5000  # a page's own cost paid once per 5,000 people
    assert spread_size(100_000, 5000) == 1563  # 64 pages, for the workers to share evenly
    assert spread_size(10_000, 5000) == 1000  # never less than a mail request
    assert spread_size(10_000, 40) == 40  # the configured most
