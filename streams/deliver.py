"""Processor: queued delivery ids in; emails out through the configured mailer; the ledger updated.

Also runs, on the leader only, the sweep that re-announces deliveries that should
have gone by now (a worker died mid-send, or a retryable failure is due again).
"""

import asyncio
import logging

from faust.types import EventT

from broadcaster.domain.email import SendResult
from broadcaster.domain.events import DeliveriesQueued
from broadcaster.services import composing, ledger
from broadcaster.services.fanout import catch_up
from broadcaster.storage.database import transaction
from broadcaster.wire.codec import decode_deliveries_queued
from streams.context import ProcessorContext
from streams.handling import handle, valid_messages

log = logging.getLogger(__name__)
NAME = "deliver"
# Rows re-announced per sweep: after an account refusal every email of a fan-out comes due
# at once, and 1,000 per sweep would take 25 minutes to send 100,000 held emails.
SWEEP_LIMIT = 20_000


def register(ctx: ProcessorContext) -> None:
    services = ctx.services
    settings = services.settings
    retry_policy = ledger.RetryPolicy(settings.delivery_max_attempts, settings.delivery_backoff,
                                      settings.delivery_backoff_cap)

    def claim(ids: tuple[int, ...]) -> list[int]:
        with transaction(services.sessions) as session:
            return ledger.claim(session, ids, now=services.clock(), lease=settings.delivery_lease,
                                max_attempts=settings.delivery_max_attempts, quiet=settings.quiet,
                                default_time_zone=settings.default_time_zone)

    def compose(claimed: list[int]) -> composing.Composed:
        with services.sessions() as session:
            return composing.compose_claimed(session, claimed, services.sender, services.clock())

    def record(results: list[SendResult]) -> None:
        with transaction(services.sessions) as session:
            now = services.clock()
            outcomes = ledger.record(session, results, now=now, policy=retry_policy)
            accepted = [r.delivery_id for r in results if r.accepted]
            waits = [max(0.0, (now - received_at).total_seconds())
                     for received_at in ledger.report_times(session, accepted).values()]
        for wait in waits:  # counted once the ledger has it: a retried record would count twice
            ctx.metrics.acknowledgement_seconds.observe(wait)
        for state, count in outcomes.items():
            ctx.metrics.emails.labels(state).inc(count)

    async def send(event: EventT, job: DeliveriesQueued) -> None:
        claimed = await handle(event, NAME, ctx.dead_letters, lambda: claim(job.delivery_ids), in_thread=True)
        if not claimed:
            return
        # Composing is retried on its own: the rows are ours now, and claiming again would find none.
        composed = await handle(event, NAME, ctx.dead_letters, lambda: compose(claimed), in_thread=True)
        if composed is None or not (composed.emails or composed.refused):
            return
        try:
            results = await asyncio.to_thread(services.mailer.send, composed.emails) if composed.emails else []
        except Exception:
            log.exception("mailer failed on %d emails; they will be retried after the lease", len(composed.emails))
            results = []
        results += composed.refused
        if not results:
            return
        await handle(event, NAME, ctx.dead_letters, lambda: record(results), in_thread=True)
        sent = sum(result.accepted for result in results)
        log.info("delivered %d of %d emails", sent, len(results))
        for failed in (r for r in results if not r.accepted):
            log.warning("delivery %d failed: %s", failed.delivery_id, failed.error)

    # Several copies of the agent take messages from the same partitions, so this many pages are
    # claimed, composed and sent at once (database and mail API work in threads); Faust commits
    # an offset only once every message before it is done.
    @ctx.app.agent(ctx.topics.deliveries, name=NAME, concurrency=settings.mail_concurrency)
    async def deliver(stream):  # noqa: ANN001, ANN202
        async for event, job in valid_messages(stream, NAME, ctx.dead_letters, decode_deliveries_queued):
            await send(event, job)

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
