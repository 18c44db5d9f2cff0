"""Processor: bug reports in; linked reports, subscriptions and queued acknowledgements out.

Reports are taken in small batches (up to 200, or whatever arrived within 50 ms) and
decided in one transaction, so a burst costs one commit per batch, not per report.
A batch is decided in a thread, holding the matcher's lock: meanwhile the event loop goes
on fetching, and the deliver processors send the acknowledgements of the batch before
(with the batch in the loop, each of their four steps waited for it to finish).
If a batch fails it is split in halves until the bad report is alone (and retried or
dead-lettered), so one bad report cannot hold back the others, and nothing escapes
the loop: every report of a batch is stored or dead-lettered before its offset counts.

The batch's acknowledgements (and receipts) are claimed and sent by this worker at once,
beside the next batch, as the deliver processor would have after a hop through the
deliveries topic: that hop was a fifth of a report's wait at 1,000 reports a second.
They are queued ledger rows first, so if this worker stops before sending, the sweep
finds them after the lease and announces them to the deliver processors.
"""

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from functools import partial

from faust.types import EventT

from broadcaster.domain.events import BugReportReceived
from broadcaster.services.reports import ReportResult, receive_reports
from broadcaster.storage.database import transaction
from broadcaster.wire.codec import decode_bug_report
from streams.context import ProcessorContext
from streams.handling import handle, in_halves
from streams.sending import ClaimedSender

log = logging.getLogger(__name__)
NAME = "link-reports"
BATCH = 200
WITHIN_SECONDS = 0.05


def summary(results: list[ReportResult]) -> str:
    """``linked INC-1 x12, suggested INC-2 x1, unlinked x3``: one log line a batch, not one a report."""
    counts = Counter(f"{r.outcome.value} {r.incident_id}" if r.incident_id else r.outcome.value for r in results)
    return ", ".join(f"{what} x{n}" for what, n in sorted(counts.items()))


def register(ctx: ProcessorContext) -> None:
    services = ctx.services
    sender = ClaimedSender(ctx, NAME)
    sending: set[asyncio.Task[None]] = set()

    def process(reports: list[BugReportReceived]) -> list[ReportResult]:
        with ctx.linking.lock, transaction(services.sessions) as session:
            outcomes = receive_reports(session, reports, now=services.clock(), model=ctx.linking)
        results = [outcomes[report.report_id] for report in reports]
        for report, result in zip(reports, results, strict=True):
            log.debug("report %s from %s: %s %s", report.report_id, report.email,
                      result.outcome.value, result.incident_id or "")
        log.info("%d report(s): %s", len(results), summary(results))
        return results

    async def process_batch(valid: Sequence[tuple[EventT, BugReportReceived]]) -> list[ReportResult]:
        return await asyncio.to_thread(process, [report for _, report in valid])

    async def process_alone(item: tuple[EventT, BugReportReceived]) -> ReportResult | None:
        event, report = item
        return await handle(event, NAME, ctx.dead_letters, lambda: process([report])[0], counted=False, in_thread=True)

    async def take(events: Sequence[EventT]) -> None:
        valid = []
        for event in events:
            report = await handle(event, NAME, ctx.dead_letters, partial(decode_bug_report, event.value))
            if report is not None:
                valid.append((event, report))
        results = await in_halves(valid, process_batch, process_alone)
        ids = [i for result in results if result is not None for i in result.delivery_ids]
        if ids:
            await send_soon(events[-1], ids)

    async def send_soon(event: EventT, delivery_ids: list[int]) -> None:
        """Send in the background, at most ``mail_concurrency`` batches at once: past that, wait for one to finish.

        ``event`` (the batch's last report) is what a dead letter would name if sending hit a
        bug: the report itself is stored, and replaying it finds the rows and does no harm.
        """
        while len(sending) >= services.settings.mail_concurrency:
            await asyncio.wait(sending, return_when=asyncio.FIRST_COMPLETED)
        task = asyncio.create_task(sender.claim_and_send(event, delivery_ids))
        sending.add(task)
        task.add_done_callback(finished)

    def finished(task: asyncio.Task[None]) -> None:
        sending.discard(task)
        if not task.cancelled() and task.exception() is not None:  # handle() catches what it can; this is the rest
            log.error("sending a batch's emails failed; the sweep sends them after the lease", exc_info=task.exception())

    @ctx.app.agent(ctx.topics.bug_reports, name=NAME)
    async def link_reports(stream):  # noqa: ANN001, ANN202
        async for events in stream.take_events(BATCH, within=WITHIN_SECONDS):
            try:
                await take(events)
            except Exception:
                log.exception("sending the emails of a batch of %d reports failed", len(events))
