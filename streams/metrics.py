"""Prometheus metrics of a worker, served at ``/metrics`` on its HTTP port.

Counters are updated where things happen (streams.handling, streams.deliver); gauges
that describe state (lag, open incidents, subscribers) are read when Prometheus scrapes.
Each app has its own registry: nothing is created at import time.
"""

import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from broadcaster.domain.incidents import OPEN_STATUSES
from broadcaster.services.delivery_trouble import trouble_counts
from broadcaster.storage.models import Incident, Subscriber, SuspectedIncident


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.processed = Counter("broadcaster_events_processed", "Messages a processor handled.",
                                 ["processor"], registry=self.registry)
        self.failed = Counter("broadcaster_events_failed", "Attempts that raised an unexpected error.",
                              ["processor"], registry=self.registry)
        self.dead_letters = Counter("broadcaster_dead_letters", "Messages sent to the dead-letter topic.",
                                    ["processor"], registry=self.registry)
        self.dead_letters_unwritable = Counter(
            "broadcaster_dead_letters_unwritable", "Messages that could not even be dead-lettered (see the log).",
            ["processor"], registry=self.registry)
        self.emails = Counter("broadcaster_emails", "Emails by outcome: sent, failed (to retry), dead.",
                              ["outcome"], registry=self.registry)
        self.emails_retried = Counter("broadcaster_emails_retried", "Deliveries re-announced by the sweep.",
                                      registry=self.registry)
        self.acknowledgement_seconds = Histogram(
            "broadcaster_acknowledgement_seconds", "From a report's arrival to its acknowledgement being accepted.",
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600), registry=self.registry)
        self.last_processed_at: dict[tuple[str, int], float] = {}

    def processed_message(self, processor: str, topic: str, partition: int, timestamp: float | None) -> None:
        self.processed.labels(processor).inc()
        if timestamp:
            self.last_processed_at[(topic, partition)] = timestamp

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class StateCollector:
    """Gauges read at scrape time: consumer lag from the worker's own offsets, and incident counts."""

    def __init__(self, app, services, metrics: Metrics) -> None:  # noqa: ANN001
        self.app, self.services, self.metrics = app, services, metrics

    def collect(self):  # noqa: ANN201
        yield from self._lag()
        yield from self._incidents()

    def _lag(self):  # noqa: ANN202
        monitor = self.app.monitor
        offsets = GaugeMetricFamily("broadcaster_consumer_lag_messages",
                                    "Log end minus committed offset, per assigned partition.",
                                    labels=["topic", "partition"])
        seconds = GaugeMetricFamily("broadcaster_consumer_lag_seconds",
                                    "Age of the last processed message's timestamp while there is lag "
                                    "(a lower bound of the oldest unprocessed message's age).",
                                    labels=["topic", "partition"])
        now = time.time()
        for tp, end in dict(monitor.tp_end_offsets).items():
            committed = monitor.tp_committed_offsets.get(tp)
            if committed is None:
                continue
            lag = max(0, end - committed)
            labels = [tp.topic, str(tp.partition)]
            offsets.add_metric(labels, lag)
            last = self.metrics.last_processed_at.get((tp.topic, tp.partition))
            seconds.add_metric(labels, 0.0 if lag == 0 or last is None else max(0.0, now - last))
        yield offsets
        yield seconds

    def _incidents(self):  # noqa: ANN202
        open_statuses = [s.value for s in OPEN_STATUSES]
        with self.services.sessions() as session:
            incidents = session.scalar(select(func.count()).where(Incident.status.in_(open_statuses))) or 0
            suspected = session.scalar(
                select(func.count()).select_from(SuspectedIncident).where(SuspectedIncident.status == "open")
            ) or 0
            subscribers = session.scalar(
                select(func.count()).select_from(Subscriber).join(Incident).where(Incident.status.in_(open_statuses))
            ) or 0
            troubled = trouble_counts(session, now=self.services.clock(), lease=self.services.settings.delivery_lease)
        yield GaugeMetricFamily("broadcaster_open_incidents", "Incidents not yet resolved.", value=incidents)
        yield GaugeMetricFamily("broadcaster_open_incident_subscribers", "Subscribers of open incidents.",
                                value=subscribers)
        yield GaugeMetricFamily("broadcaster_suspected_incidents", "Suspected incidents waiting in triage.",
                                value=suspected)
        deliveries = GaugeMetricFamily("broadcaster_deliveries_troubled",
                                       "Deliveries stuck (sender stopped), failed (to be retried), "
                                       "held (mail account refused) or dead.",
                                       labels=["state"])
        for state, count in troubled.items():
            deliveries.add_metric([state], count)
        yield deliveries


def register(ctx) -> None:  # noqa: ANN001
    ctx.metrics.registry.register(StateCollector(ctx.app, ctx.services, ctx.metrics))

    @ctx.app.page("/metrics")
    async def metrics(web, request):  # noqa: ANN001, ANN202
        body, content_type = ctx.metrics.exposition()
        return web.bytes(body, headers={"Content-Type": content_type})
