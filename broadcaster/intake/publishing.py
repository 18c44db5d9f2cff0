"""Publishing what the intake API accepted, at once, from one thread per serve process.

A request answers as soon as its report is committed to the outbox (that is what
"accepted" means) and wakes this thread, which runs the relay for everything owed: the
requests that arrive while one run is publishing share the next run, so a burst costs a
few broker round trips, not one per report. If the broker does not answer, the thread
tries again every ``retry_seconds``; the worker's relay publishes them as well.
"""

import logging
import threading

from broadcaster.bootstrap import Services
from broadcaster.embedded.runtime import resolve_bootstrap
from broadcaster.services.accepting import PUBLISH_TIMEOUT_SECONDS
from broadcaster.services.relay import Relay

log = logging.getLogger(__name__)
GATHER_SECONDS = 0.02  # after a run, let what is accepted meanwhile gather: a run has a fixed cost


class PublishingThread:
    def __init__(self, services: Services, retry_seconds: float = 1.0, gather_seconds: float = GATHER_SECONDS) -> None:
        self._services, self._retry, self._gather = services, retry_seconds, gather_seconds
        self._wake, self._stopping = threading.Event(), threading.Event()
        self._relay: Relay | None = None
        self._failing = False  # said once per outage, not once a retry
        self._thread = threading.Thread(target=self._loop, name="intake-publisher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def kick(self) -> None:
        """Something was accepted: publish it now."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=10)
        if self._relay is not None:
            self._relay.close()

    def _loop(self) -> None:
        owed = True  # whatever an earlier process left behind
        while not self._stopping.is_set():
            if not owed:
                self._wake.wait()
            self._wake.clear()
            owed = not self._publish()
            self._stopping.wait(self._retry if owed else self._gather)

    def _publish(self) -> bool:
        try:
            if self._relay is None:
                bootstrap = resolve_bootstrap(self._services.settings)
                self._relay = Relay(self._services.settings, self._services.sessions, bootstrap, PUBLISH_TIMEOUT_SECONDS)
            self._relay.run()
        except Exception as error:  # noqa: BLE001 - the reports are durable; the broker only delays them
            log.log(logging.DEBUG if self._failing else logging.WARNING,
                    "publishing accepted reports failed (%s); trying again every %g s", error, self._retry)
            self._failing = True
            if self._relay is not None:
                self._relay.close()
                self._relay = None
            return False
        if self._failing:
            log.warning("publishing accepted reports works again")
        self._failing = False
        return True
