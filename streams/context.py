"""What every processor needs, built once by :func:`streams.app.create_app`."""

from dataclasses import dataclass

import faust

from broadcaster.bootstrap import Services
from broadcaster.domain.events import DeliveriesQueued
from broadcaster.services.linking import LinkingModel
from broadcaster.wire.codec import encode_deliveries_queued
from streams.handling import DeadLetters, publish
from streams.metrics import Metrics


@dataclass(frozen=True)
class StreamTopics:
    bug_reports: faust.TopicT
    incident_events: faust.TopicT
    notifications: faust.TopicT
    deliveries: faust.TopicT


@dataclass(frozen=True)
class ProcessorContext:
    app: faust.App
    services: Services
    topics: StreamTopics
    dead_letters: DeadLetters
    linking: LinkingModel

    @property
    def metrics(self) -> Metrics:
        return self.dead_letters.metrics

    async def announce_deliveries(self, key: str, delivery_ids: list[int] | tuple[int, ...]) -> None:
        """Tell the deliver processor that these ledger rows are ready to go."""
        job = DeliveriesQueued(tuple(delivery_ids))
        await publish(self.topics.deliveries, key, encode_deliveries_queued(job))
