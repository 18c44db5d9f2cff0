"""Processor: bug reports in; linked reports, subscriptions and queued acknowledgements out.

Reports are taken in small batches (up to 200, or whatever arrived within 50 ms) and
decided in one transaction, so a burst costs one commit per batch, not per report.
If a batch fails, its reports are retried one by one, so one bad report cannot hold
back the others.
"""

import logging
from collections import Counter

from broadcaster.domain.events import BugReportReceived
from broadcaster.services.reports import ReportResult, receive_reports
from broadcaster.storage.database import transaction
from broadcaster.wire.codec import decode_bug_report
from streams.context import ProcessorContext
from streams.handling import handle

log = logging.getLogger(__name__)
NAME = "link-reports"
BATCH = 200
WITHIN_SECONDS = 0.05
ANNOUNCE_CHUNK = 1000


def summary(results: list[ReportResult]) -> str:
    """``linked INC-1 x12, suggested INC-2 x1, unlinked x3``: one log line a batch, not one a report."""
    counts = Counter(f"{r.outcome.value} {r.incident_id}" if r.incident_id else r.outcome.value for r in results)
    return ", ".join(f"{what} x{n}" for what, n in sorted(counts.items()))


def register(ctx: ProcessorContext) -> None:
    services = ctx.services

    def process(reports: list[BugReportReceived]) -> list[ReportResult]:
        with transaction(services.sessions) as session:
            outcomes = receive_reports(session, reports, now=services.clock(), model=ctx.linking)
        results = [outcomes[report.report_id] for report in reports]
        for report, result in zip(reports, results, strict=True):
            log.debug("report %s from %s: %s %s", report.report_id, report.email,
                      result.outcome.value, result.incident_id or "")
        log.info("%d report(s): %s", len(results), summary(results))
        return results

    async def process_one_by_one(valid: list) -> list[ReportResult | None]:  # noqa: ANN001
        return [await handle(event, NAME, ctx.dead_letters, lambda r=report: process([r])[0]) for event, report in valid]

    @ctx.app.agent(ctx.topics.bug_reports, name=NAME)
    async def link_reports(stream):  # noqa: ANN001, ANN202
        async for events in stream.take_events(BATCH, within=WITHIN_SECONDS):
            valid = []
            for event in events:
                report = await handle(event, NAME, ctx.dead_letters, lambda e=event: decode_bug_report(e.value))
                if report is not None:
                    valid.append((event, report))
            try:
                results: list[ReportResult | None] = list(process([report for _, report in valid]))
            except Exception:  # noqa: BLE001 - fall back to one at a time, which sorts out the culprit
                log.warning("a batch of %d reports failed; retrying them one by one", len(valid), exc_info=True)
                results = await process_one_by_one(valid)
            ids = list(dict.fromkeys(i for result in results if result is not None for i in result.delivery_ids))
            for start in range(0, len(ids), ANNOUNCE_CHUNK):
                await ctx.announce_deliveries(str(ids[start]), ids[start : start + ANNOUNCE_CHUNK])
