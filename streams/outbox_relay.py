"""Timer (leader only): the outbox relay (broadcaster/services/relay.py).

Publishes what an entrance accepted but could not publish (the broker was down), and,
once a memory-only broker has restarted, everything it lost. kafka-python and the
database block, so each run goes to a thread; its clients live across runs and are
made again after any failure, since a restarted broker can leave them stuck.
"""

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from broadcaster.bootstrap import Services
from broadcaster.services.relay import Relay
from streams.context import ProcessorContext

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 3.0
SETTLE = timedelta(seconds=15)
"""A message this young may still be being published by the entrance that accepted it: left to it,
so that one message is not normally published twice (the CLI waits at most 3 s a step)."""


class _Relaying:
    def __init__(self, services: Services, bootstrap: str) -> None:
        self._services, self._bootstrap = services, bootstrap
        self._relay: Relay | None = None
        self._failing = False

    def run(self) -> None:
        settings = self._services.settings
        try:
            self._relay = self._relay or Relay(settings, self._services.sessions, self._bootstrap, TIMEOUT_SECONDS)
            done = self._relay.run(settled_before=datetime.now(UTC) - SETTLE)
            self._relay.prune()
        except Exception:  # the broker or the database is down: try again next time
            if not self._failing:
                log.warning("outbox relay: cannot publish; trying again every %gs", settings.outbox_relay_interval,
                            exc_info=True)
            self._failing = True
            self._close()
            return
        if self._failing:
            log.warning("outbox relay: publishing again")
        self._failing = False
        if done.handed_back:
            log.warning("outbox relay: the broker restarted; %d messages it lost are published again", done.handed_back)
        if done.published:
            log.info("outbox relay: published %d messages", done.published)

    def _close(self) -> None:
        if self._relay is not None:
            try:
                self._relay.close()
            except Exception:  # a client of a dead broker may fail to close; it is dropped anyway
                log.debug("outbox relay: closing the clients failed", exc_info=True)
            self._relay = None


def register(ctx: ProcessorContext) -> None:
    relaying = _Relaying(ctx.services, ctx.bootstrap)

    @ctx.app.timer(ctx.services.settings.outbox_relay_interval, on_leader=True)
    async def relay_outbox() -> None:
        await asyncio.to_thread(relaying.run)
