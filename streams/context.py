"""What every processor needs, built once by :func:`streams.app.create_app`."""

from dataclasses import dataclass

import faust

from broadcaster.bootstrap import Services
from streams.handling import DeadLetters


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
