"""Processor: queued delivery ids in; emails out through the configured mailer; the ledger updated.

Also runs, on the leader only, the sweep that re-announces deliveries that should
have gone by now (a worker died mid-send, or a retryable failure is due again).
"""

import logging

from broadcaster.services import ledger
from broadcaster.services.fanout import catch_up
from broadcaster.storage.database import transaction
from broadcaster.wire.codec import decode_deliveries_queued
from streams.context import ProcessorContext
from streams.handling import valid_messages
from streams.sending import ClaimedSender

log = logging.getLogger(__name__)
NAME = "deliver"
# Rows re-announced per sweep: after an account refusal every email of a fan-out comes due
# at once, and 1,000 per sweep would take 25 minutes to send 100,000 held emails.
SWEEP_LIMIT = 20_000


def register(ctx: ProcessorContext) -> None:
    services = ctx.services
    settings = services.settings
    sender = ClaimedSender(ctx, NAME)

    # Several copies of the agent take messages from the same partitions, so this many pages are
    # claimed, composed and sent at once (database and mail API work in threads); Faust commits
    # an offset only once every message before it is done.
    @ctx.app.agent(ctx.topics.deliveries, name=NAME, concurrency=settings.mail_concurrency)
    async def deliver(stream):  # noqa: ANN001, ANN202
        async for event, job in valid_messages(stream, NAME, ctx.dead_letters, decode_deliveries_queued):
            await sender.claim_and_send(event, job.delivery_ids)

    @ctx.app.timer(settings.sweep_interval, on_leader=True)
    async def sweep_stalled_deliveries() -> None:
        with transaction(services.sessions) as session:
            now = services.clock()
            ids = ledger.stalled(session, now=now, lease=settings.delivery_lease, limit=SWEEP_LIMIT)
            ids += catch_up(session, now=now, settle=settings.delivery_lease)
        await ctx.announce_deliveries(ids)
        if ids:
            ctx.metrics.emails_retried.inc(len(ids))
            log.warning("re-announced %d deliveries that should have gone by now", len(ids))
