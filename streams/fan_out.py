"""Processor: one published update in; one queued delivery per subscriber out, page by page."""

import logging

from broadcaster.domain.events import DeliveriesQueued, UpdatePublished
from broadcaster.services.fanout import queue_page
from broadcaster.storage.database import transaction
from broadcaster.wire.codec import decode_update_published, encode_deliveries_queued
from streams.context import ProcessorContext
from streams.handling import handle, publish

log = logging.getLogger(__name__)
NAME = "fan-out"
PAGE_SIZE = 500


def register(ctx: ProcessorContext) -> None:
    services = ctx.services

    def next_page(job: UpdatePublished, after: int):  # noqa: ANN202
        with transaction(services.sessions) as session:
            return queue_page(session, job, after_subscriber_id=after, size=PAGE_SIZE, now=services.clock())

    async def fan_out_one(event, job: UpdatePublished) -> None:  # noqa: ANN001
        after, queued = 0, 0
        while True:
            page = await handle(event, NAME, ctx.dead_letters, lambda: next_page(job, after))
            if page is None or page.last_subscriber_id is None:
                break
            if page.delivery_ids:
                value = encode_deliveries_queued(DeliveriesQueued(tuple(page.delivery_ids)))
                await publish(ctx.topics.deliveries, job.incident_id, value)
                queued += len(page.delivery_ids)
            after = page.last_subscriber_id
        log.info("update %d of %s: %d deliveries queued", job.update_id, job.incident_id, queued)

    @ctx.app.agent(ctx.topics.notifications, name=NAME)
    async def fan_out(stream):  # noqa: ANN001, ANN202
        async for event in stream.events():
            job = await handle(event, NAME, ctx.dead_letters, lambda: decode_update_published(event.value))
            if job is not None:
                await fan_out_one(event, job)
