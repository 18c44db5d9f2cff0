"""Processor: bug reports in; linked reports, subscriptions and queued acknowledgements out."""

import logging

from broadcaster.domain.events import BugReportReceived
from broadcaster.services.reports import ReportResult, receive_report
from broadcaster.storage.database import transaction
from broadcaster.wire.codec import decode_bug_report
from streams.context import ProcessorContext
from streams.handling import handle, valid_messages

log = logging.getLogger(__name__)
NAME = "link-reports"


def register(ctx: ProcessorContext) -> None:
    services = ctx.services

    def process(report: BugReportReceived) -> ReportResult:
        with transaction(services.sessions) as session:
            result = receive_report(session, report, now=services.clock(), model=ctx.linking)
        log.info("report %s from %s: %s %s", report.report_id, report.email,
                 result.outcome.value, result.incident_id or "")
        return result

    @ctx.app.agent(ctx.topics.bug_reports, name=NAME)
    async def link_reports(stream):  # noqa: ANN001, ANN202
        async for event, report in valid_messages(stream, NAME, ctx.dead_letters, decode_bug_report):
            result = await handle(event, NAME, ctx.dead_letters, lambda: process(report))
            if result is not None and result.delivery_ids:
                await ctx.announce_deliveries(result.incident_id or report.email, result.delivery_ids)
