"""Processor: one published update in; its pages out, each queued and sent by whichever worker takes it.

An update (``notification.update_published``) is split into pages of up to 5,000 subscribers
(``fan_out_page_size``; fewer for a smaller fan-out, ``fanout.spread_size``), each published
back on the notifications topic keyed by incident and page number, so the pages of one big
incident spread over the partitions and every worker of the group sends some of them.
A page (``notification.fan_out_page``) becomes one ledger row per subscriber, inserted
already claimed by this worker, which sends them at once (``ledger.queue_claimed``): no hop
through the deliveries topic, and one write a recipient fewer. The ledger's unique key makes
a redelivered update or page a no-op that only sends what is still waiting; rows whose
sender died are found by the sweep after their lease, like any claim.
Several pages are in flight at once (``mail_concurrency``), as in the deliver processor.
"""

import logging
from functools import partial

from faust.types import EventT

from broadcaster.domain.events import FanOutPage, UpdatePublished
from broadcaster.services.fanout import claim_page, page_bounds
from broadcaster.storage.database import transaction
from broadcaster.wire.codec import decode_fan_out_job, encode_fan_out_page
from streams.context import ProcessorContext
from streams.handling import handle, publish, valid_messages
from streams.sending import ClaimedSender

log = logging.getLogger(__name__)
NAME = "fan-out"


def register(ctx: ProcessorContext) -> None:
    services = ctx.services
    page_size = services.settings.fan_out_page_size
    sender = ClaimedSender(ctx, NAME)

    def pages_of(job: UpdatePublished) -> list[FanOutPage]:
        with services.sessions() as session:
            return page_bounds(session, job, size=page_size)

    def next_chunk(job: FanOutPage, after: int):  # noqa: ANN202
        with transaction(services.sessions) as session:
            return claim_page(session, job, after_subscriber_id=after, size=page_size, now=services.clock(), rules=sender.rules)

    async def split(event: EventT, job: UpdatePublished) -> None:
        pages = await handle(event, NAME, ctx.dead_letters, partial(pages_of, job), counted=False, in_thread=True)
        for page in pages or ():
            await publish(ctx.topics.notifications, f"{page.incident_id}:{page.page}", encode_fan_out_page(page))
        log.info("update %d of %s: %d page(s) to send", job.update_id, job.incident_id, len(pages or ()))

    async def send_page(event: EventT, job: FanOutPage) -> None:
        """The page's subscribers, a chunk at a time (the last, open page may have grown since the split), sent."""
        after = job.after_subscriber_id
        while True:
            chunk = await handle(event, NAME, ctx.dead_letters, partial(next_chunk, job, after), counted=False,
                                 in_thread=True)
            if chunk is None or chunk.last_subscriber_id is None:
                return
            if chunk.delivery_ids:
                await sender.send(event, chunk.delivery_ids)
            after = chunk.last_subscriber_id

    @ctx.app.agent(ctx.topics.notifications, name=NAME, concurrency=services.settings.mail_concurrency)
    async def fan_out(stream):  # noqa: ANN001, ANN202
        async for event, job in valid_messages(stream, NAME, ctx.dead_letters, decode_fan_out_job):
            await (send_page(event, job) if isinstance(job, FanOutPage) else split(event, job))
