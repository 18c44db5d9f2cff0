"""Broadcaster's topics, named from one prefix so several systems (or tests) share a cluster."""

from dataclasses import dataclass

from broadcaster.config import Settings
from broadcaster.kafka.clients import kafka_python_options


@dataclass(frozen=True)
class Topics:
    bug_reports: str
    incident_events: str
    notifications: str
    deliveries: str
    dead_letters: str

    @classmethod
    def from_prefix(cls, prefix: str) -> "Topics":
        return cls(
            bug_reports=f"{prefix}bug-reports",
            incident_events=f"{prefix}incident-events",
            notifications=f"{prefix}notifications",
            deliveries=f"{prefix}deliveries",
            dead_letters=f"{prefix}dead-letters",
        )

    def all(self) -> tuple[str, ...]:
        return (
            self.bug_reports,
            self.incident_events,
            self.notifications,
            self.deliveries,
            self.dead_letters,
        )


def ensure_topics(settings: Settings, bootstrap: str) -> Topics:
    """Create every topic at the expected partition count before any worker starts.

    Brokers that auto-create topics pick their own partition count (the embedded one
    picks 4 whatever is asked), so nothing here relies on auto-creation.
    """
    from kafka.admin import KafkaAdminClient, NewTopic  # here: commands that only name the topics skip kafka-python
    from kafka.errors import TopicAlreadyExistsError

    topics = Topics.from_prefix(settings.topic_prefix)
    admin = KafkaAdminClient(**kafka_python_options(settings, bootstrap))
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(name, settings.topic_partitions, settings.topic_replication_factor)
            for name in topics.all()
            if name not in existing
        ]
        if missing:
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another process created them first: the outcome we wanted
    finally:
        admin.close()
    return topics
