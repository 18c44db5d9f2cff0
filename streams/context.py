"""What every processor needs, built once by :func:`streams.app.create_app`."""

from collections.abc import Sequence
from dataclasses import dataclass

import faust

from broadcaster.bootstrap import Services
from broadcaster.services import ledger
from broadcaster.services.linking import LinkingModel
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
    bootstrap: str  # the brokers' addresses, for clients outside Faust (the outbox relay)

    @property
    def metrics(self) -> Metrics:
        return self.dead_letters.metrics

    async def announce_deliveries(self, delivery_ids: Sequence[int]) -> None:
        """Tell the deliver processors that these ledger rows are ready to go."""
        for key, value in ledger.announcements(delivery_ids):
            await publish(self.topics.deliveries, key, value)
