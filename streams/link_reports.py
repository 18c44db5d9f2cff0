"""Processor: bug reports in; linked reports, subscriptions and queued acknowledgements out."""

import logging

from broadcaster.domain.events import DeliveriesQueued
from broadcaster.services.reports import Outcome, receive_report
from broadcaster.storage.database import transaction
from broadcaster.wire.codec import decode_bug_report, encode_deliveries_queued
from streams.context import ProcessorContext
from streams.handling import handle, publish

log = logging.getLogger(__name__)
NAME = "link-reports"


def register(ctx: ProcessorContext) -> None:
    services = ctx.services
    settings = services.settings

    def process(raw: bytes | None):  # noqa: ANN202
        report = decode_bug_report(raw)
        with transaction(services.sessions) as session:
            result = receive_report(
                session,
                report,
                now=services.clock(),
                resolved_window=settings.resolved_reply_window,
            )
        log.info("report %s from %s: %s %s", report.report_id, report.email,
                 result.outcome.value, result.incident_id or "")
        return result

    @ctx.app.agent(ctx.topics.bug_reports, name=NAME)
    async def link_reports(stream):  # noqa: ANN001, ANN202
        async for event in stream.events():
            result = await handle(event, NAME, ctx.dead_letters, lambda: process(event.value))
            if result is not None and result.outcome is not Outcome.UNLINKED and result.delivery_ids:
                job = DeliveriesQueued(tuple(result.delivery_ids))
                await publish(ctx.topics.deliveries, result.incident_id, encode_deliveries_queued(job))
