"""Processor: one published update in; one queued delivery per subscriber out, page by page."""

import logging
from functools import partial

from broadcaster.domain.events import UpdatePublished
from broadcaster.services.fanout import queue_page
from broadcaster.storage.database import transaction
from broadcaster.wire.codec import decode_update_published
from streams.context import ProcessorContext
from streams.handling import handle, valid_messages

log = logging.getLogger(__name__)
NAME = "fan-out"
PAGE_SIZE = 1000


def register(ctx: ProcessorContext) -> None:
    services = ctx.services

    def next_page(job: UpdatePublished, after: int):  # noqa: ANN202
        with transaction(services.sessions) as session:
            return queue_page(session, job, after_subscriber_id=after, size=PAGE_SIZE, now=services.clock())

    async def fan_out_one(event, job: UpdatePublished) -> None:  # noqa: ANN001
        after, queued = 0, 0
        while True:
            page = await handle(event, NAME, ctx.dead_letters, partial(next_page, job, after))
            if page is None or page.last_subscriber_id is None:
                break
            if page.delivery_ids:
                await ctx.announce_deliveries(page.delivery_ids)
                queued += len(page.delivery_ids)
            after = page.last_subscriber_id
        log.info("update %d of %s: %d deliveries queued", job.update_id, job.incident_id, queued)

    @ctx.app.agent(ctx.topics.notifications, name=NAME)
    async def fan_out(stream):  # noqa: ANN001, ANN202
        async for event, job in valid_messages(stream, NAME, ctx.dead_letters, decode_update_published):
            await fan_out_one(event, job)
