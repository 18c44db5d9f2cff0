"""Fan-out pages (issue 17): an update split into pages that any worker may queue, each person once, on both databases."""

from datetime import timedelta

from sqlalchemy import func, select

from broadcaster.domain.events import IncidentUpdated, UpdatePublished
from broadcaster.services.fanout import page_bounds, queue_page
from broadcaster.storage.models import Delivery, IncidentUpdate
from tests.integration.test_services import T0, apply, declared, model, receive, report

__all__ = ["model"]  # the fixture, shared with test_services


def test_pages_cover_every_subscriber_once_in_any_order_and_a_repeated_page_adds_nothing(sessions, model) -> None:
    apply(sessions, model, declared(), T0)
    for n in range(7):
        receive(sessions, model, report(f"r{n}", f"user{n}@example.com", "CSV upload fails", T0), T0)
    later = T0 + timedelta(minutes=5)
    apply(sessions, model, IncidentUpdated("u1", "INC-1", later, "Testing a fix.", later + timedelta(hours=1)), later)
    with sessions() as session:
        update_id = max(session.scalars(select(IncidentUpdate.id)))
        pages = page_bounds(session, UpdatePublished("INC-1", update_id), size=3)
    assert [(p.page, p.through_subscriber_id is None) for p in pages] == [(0, False), (1, False), (2, True)]
    assert pages[1].after_subscriber_id == pages[0].through_subscriber_id
    queued: list[int] = []
    for page in reversed(pages * 2):  # out of order, each twice: as two workers and a redelivery may
        with sessions.begin() as session:
            queued += queue_page(session, page, after_subscriber_id=page.after_subscriber_id, size=3, now=later,
                                 through_subscriber_id=page.through_subscriber_id).delivery_ids
    with sessions() as session:
        progress = session.scalar(select(func.count()).where(Delivery.update_id == update_id)) or 0
    assert progress == 7 and len(set(queued)) == 7
