"""The outbox relay's producer: kafka-python, acks from all replicas, idempotence where the broker can."""

from collections.abc import Sequence
from typing import NamedTuple

from kafka import KafkaProducer

from broadcaster.config import Settings
from broadcaster.kafka.clients import kafka_python_options

SEND_TIMEOUT_SECONDS = 30


class Record(NamedTuple):
    topic: str
    key: bytes | None
    value: bytes
    partition: int | None = None


class Publisher:
    """Publishes records in order and waits until the broker has them, for at most ``timeout`` seconds a step.

    Without idempotence a retried request can overtake the one after it, so only one
    request is in flight then: the order of a key's messages is the order they were given.
    """

    def __init__(self, settings: Settings, bootstrap: str, timeout: float = SEND_TIMEOUT_SECONDS) -> None:
        self._timeout = timeout
        idempotent = settings.producer_idempotence
        self._producer = KafkaProducer(
            acks="all",
            enable_idempotence=idempotent,
            max_in_flight_requests_per_connection=5 if idempotent else 1,
            linger_ms=5,
            max_block_ms=int(timeout * 1000),
            bootstrap_timeout_ms=int(timeout * 1000),
            reconnect_backoff_max_ms=1000,
            **kafka_python_options(settings, bootstrap),
        )

    def publish_records(self, records: Sequence[Record]) -> int:
        """Send ``records`` in order; how many of them, from the first, the broker acknowledged.

        Raises the first failure only when not even the first record went through, so a
        caller can keep what was done and try the rest again.
        """
        futures = [self._producer.send(r.topic, key=r.key, value=r.value, partition=r.partition) for r in records]
        self._producer.flush(timeout=self._timeout)
        for done, future in enumerate(futures):
            try:
                future.get(timeout=self._timeout)
            except Exception:
                if done == 0:
                    raise
                return done
        return len(futures)

    def close(self) -> None:
        self._producer.close(timeout=self._timeout)

    def __enter__(self) -> "Publisher":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
