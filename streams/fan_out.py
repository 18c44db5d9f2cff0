"""Processor: one published update in; its pages out, each queued by whichever worker takes it.

An update (``notification.update_published``) is split into pages of 1,000 subscribers
(``fan_out_page_size``),
each published back on the notifications topic keyed by incident and page number, so the
pages of one big incident spread over the partitions and every worker of the group queues
and sends some of them. A page (``notification.fan_out_page``) becomes one queued ledger
row per subscriber, announced on the deliveries topic. The ledger's unique key makes a
redelivered update or page a no-op that only re-announces what is still queued.
"""

import logging
from functools import partial

from faust.types import EventT

from broadcaster.domain.events import FanOutPage, UpdatePublished
from broadcaster.services.fanout import page_bounds, queue_page
from broadcaster.storage.database import transaction
from broadcaster.wire.codec import decode_fan_out_job, encode_fan_out_page
from streams.context import ProcessorContext
from streams.handling import handle, publish, valid_messages

log = logging.getLogger(__name__)
NAME = "fan-out"


def register(ctx: ProcessorContext) -> None:
    services = ctx.services
    page_size = services.settings.fan_out_page_size

    def pages_of(job: UpdatePublished) -> list[FanOutPage]:
        with services.sessions() as session:
            return page_bounds(session, job, size=page_size)

    def next_chunk(job: FanOutPage, after: int):  # noqa: ANN202
        with transaction(services.sessions) as session:
            return queue_page(session, job, after_subscriber_id=after, size=page_size, now=services.clock(),
                              through_subscriber_id=job.through_subscriber_id)

    async def split(event: EventT, job: UpdatePublished) -> None:
        pages = await handle(event, NAME, ctx.dead_letters, partial(pages_of, job), in_thread=True)
        for page in pages or ():
            await publish(ctx.topics.notifications, f"{page.incident_id}:{page.page}", encode_fan_out_page(page))
        log.info("update %d of %s: %d page(s) to queue", job.update_id, job.incident_id, len(pages or ()))

    async def queue(event: EventT, job: FanOutPage) -> None:
        """The page's subscribers, a chunk at a time (the last, open page may have grown since the split)."""
        after = job.after_subscriber_id
        while True:
            chunk = await handle(event, NAME, ctx.dead_letters, partial(next_chunk, job, after), in_thread=True)
            if chunk is None or chunk.last_subscriber_id is None:
                return
            if chunk.delivery_ids:
                await ctx.announce_deliveries(chunk.delivery_ids)
            after = chunk.last_subscriber_id

    @ctx.app.agent(ctx.topics.notifications, name=NAME)
    async def fan_out(stream):  # noqa: ANN001, ANN202
        async for event, job in valid_messages(stream, NAME, ctx.dead_letters, decode_fan_out_job):
            await (queue(event, job) if isinstance(job, FanOutPage) else split(event, job))
