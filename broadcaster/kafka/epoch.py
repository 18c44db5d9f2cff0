"""The broker's epoch: since when the broker we talk to has kept what we published.

A memory-only broker (the embedded one) forgets every message when it restarts, and
nothing in the Kafka protocol says that it did. So the first publisher to reach a broker
writes a marker, one record at offset 0 of ``<prefix>broker-epoch`` holding the time it
was written; a broker without the marker is one nobody has published to since it
started. A real cluster keeps the marker for ever, so its epoch begins once.
"""

import time
from datetime import UTC, datetime

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaTimeoutError, TopicAlreadyExistsError

from broadcaster.config import Settings
from broadcaster.kafka.clients import kafka_python_options
from broadcaster.kafka.producer import Publisher, Record


def marker_topic(settings: Settings) -> str:
    return f"{settings.topic_prefix}broker-epoch"


class EpochMarker:
    """Reads and writes the marker, with at most ``timeout`` seconds for each step."""

    def __init__(self, settings: Settings, bootstrap: str, timeout: float) -> None:
        self._settings, self._bootstrap, self._timeout = settings, bootstrap, timeout
        self._partition = TopicPartition(marker_topic(settings), 0)
        self._consumer = KafkaConsumer(
            enable_auto_commit=False,
            allow_auto_create_topics=False,
            bootstrap_timeout_ms=int(timeout * 1000),
            request_timeout_ms=int(timeout * 1000) + 500,
            reconnect_backoff_max_ms=1000,
            **kafka_python_options(settings, bootstrap),
        )

    def read(self) -> datetime | None:
        """When this broker's epoch began; None if nobody has marked it yet (a fresh or restarted broker)."""
        consumer, partition = self._consumer, self._partition
        if not consumer.partitions_for_topic(partition.topic):
            return None
        if consumer.end_offsets([partition])[partition] == 0:  # on this broker only wrong past the first batch
            return None
        consumer.assign([partition])
        consumer.seek(partition, 0)
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            for record in consumer.poll(timeout_ms=200).get(partition, []):
                if record.offset == 0:
                    return datetime.fromisoformat(record.value.decode())
        raise KafkaTimeoutError(f"the broker did not return {partition.topic}'s marker within {self._timeout:g}s")

    def write(self, publisher: Publisher) -> datetime:
        """Mark this broker's epoch as beginning now; the first marker written wins, and is returned."""
        self._create_topic()
        now = datetime.now(UTC)
        publisher.publish_records([Record(self._partition.topic, None, now.isoformat().encode(), partition=0)])
        return self.read() or now

    def _create_topic(self) -> None:
        """One partition, explicitly: a broker that auto-creates topics may not allow it, or pick its own count."""
        admin = KafkaAdminClient(request_timeout_ms=int(self._timeout * 1000) + 500,
                                 **kafka_python_options(self._settings, self._bootstrap))
        try:
            if self._partition.topic not in admin.list_topics():
                admin.create_topics([NewTopic(self._partition.topic, 1, self._settings.topic_replication_factor)])
        except TopicAlreadyExistsError:
            pass  # another publisher got there first
        finally:
            admin.close()

    def close(self) -> None:
        self._consumer.close()
