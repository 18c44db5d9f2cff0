"""Sending claimed ledger rows: compose their emails, hand them to the mailer, record what it said.

Shared by the deliver processor (rows announced on the deliveries topic, claimed there),
the fan-out processor (a page's rows, inserted already claimed) and link-reports (a batch's
acknowledgements). Every step but the mail API call runs through
:func:`streams.handling.handle` in a thread, so a database outage waits and a bug
dead-letters the message, never the worker. The steps do not count as processed
messages: the processor counted its message once, when it took it.
"""

import asyncio
import logging
from collections.abc import Sequence
from functools import partial

from faust.types import EventT

from broadcaster.domain.email import SendResult
from broadcaster.domain.notifications import NotificationKind
from broadcaster.services import composing, ledger
from broadcaster.storage.database import transaction
from streams.context import ProcessorContext
from streams.handling import handle

log = logging.getLogger(__name__)


class ClaimedSender:
    """Sends ledger rows for one processor (whose name its dead letters carry): rows it has claimed, or
    rows it claims first (:meth:`claim_and_send`)."""

    def __init__(self, ctx: ProcessorContext, processor: str) -> None:
        settings = ctx.services.settings
        self._ctx = ctx
        self._processor = processor
        self.rules = ledger.ClaimRules(settings.delivery_lease, settings.delivery_max_attempts, settings.quiet,
                                       settings.default_time_zone)  # the fan-out claims its pages by them too
        self._retry_policy = ledger.RetryPolicy(settings.delivery_max_attempts, settings.delivery_backoff,
                                                settings.delivery_backoff_cap)

    async def claim_and_send(self, event: EventT, delivery_ids: Sequence[int]) -> None:
        """Claim the sendable rows among ``delivery_ids`` (others may be another worker's, or gone) and send them."""
        claimed = await handle(event, self._processor, self._ctx.dead_letters, partial(self._claim, delivery_ids),
                               counted=False, in_thread=True)
        if claimed:
            await self.send(event, claimed)

    def _claim(self, delivery_ids: Sequence[int]) -> list[int]:
        services = self._ctx.services
        with transaction(services.sessions) as session:
            return ledger.claim(session, delivery_ids, now=services.clock(), **self.rules._asdict())

    async def send(self, event: EventT, claimed: Sequence[int]) -> None:
        ctx = self._ctx
        # Composing is retried on its own: the rows are ours now, and claiming again would find none.
        composed = await handle(event, self._processor, ctx.dead_letters, lambda: self._compose(claimed), counted=False,
                                in_thread=True)
        if composed is None or not (composed.emails or composed.refused):
            return
        try:
            results = await asyncio.to_thread(ctx.services.mailer.send, composed.emails) if composed.emails else []
        except Exception:
            log.exception("mailer failed on %d emails; they will be retried after the lease", len(composed.emails))
            results = []
        results += composed.refused
        if not results:
            return
        acknowledgements = {email.delivery_id for email in composed.emails
                            if email.headers.get("X-Broadcaster-Kind") == NotificationKind.ACKNOWLEDGEMENT}
        await handle(event, self._processor, ctx.dead_letters, lambda: self._record(results, acknowledgements),
                     counted=False, in_thread=True)
        sent = sum(result.accepted for result in results)
        log.info("delivered %d of %d emails", sent, len(results))
        for failed in (r for r in results if not r.accepted):
            log.warning("delivery %d failed: %s", failed.delivery_id, failed.error)

    def _compose(self, claimed: Sequence[int]) -> composing.Composed:
        services = self._ctx.services
        with services.sessions() as session:
            return composing.compose_claimed(session, claimed, services.sender, services.clock())

    def _record(self, results: list[SendResult], acknowledgements: set[int]) -> None:
        """Record what the mailer said, and how long each accepted acknowledgement's reporter waited.

        Only the acknowledgements are looked up for that: a fan-out page has none, and asking
        for a thousand rows to find none cost the database a look-up per recipient.
        """
        services, metrics = self._ctx.services, self._ctx.metrics
        with transaction(services.sessions) as session:
            now = services.clock()
            outcomes = ledger.record(session, results, now=now, policy=self._retry_policy)
            accepted = [r.delivery_id for r in results if r.accepted and r.delivery_id in acknowledgements]
            waits = [max(0.0, (now - received_at).total_seconds())
                     for received_at in ledger.report_times(session, accepted).values()]
        for wait in waits:  # counted once the ledger has it: a retried record would count twice
            metrics.acknowledgement_seconds.observe(wait)
        for state, count in outcomes.items():
            metrics.emails.labels(state).inc(count)
