"""The CLI's producer: kafka-python, acks from all replicas, idempotence where the broker can."""

from kafka import KafkaProducer

from broadcaster.config import Settings
from broadcaster.kafka.clients import kafka_python_options

SEND_TIMEOUT_SECONDS = 30


class Publisher:
    """Publishes one event at a time and waits until the broker has it."""

    def __init__(self, settings: Settings, bootstrap: str) -> None:
        self._producer = KafkaProducer(
            acks="all",
            enable_idempotence=settings.producer_idempotence,
            linger_ms=5,
            **kafka_python_options(settings, bootstrap),
        )

    def publish(self, topic: str, key: str, value: bytes) -> None:
        self._producer.send(topic, key=key.encode(), value=value).get(timeout=SEND_TIMEOUT_SECONDS)

    def publish_many(self, topic: str, messages: list[tuple[str, bytes]]) -> None:
        futures = [self._producer.send(topic, key=k.encode(), value=v) for k, v in messages]
        self._producer.flush(timeout=SEND_TIMEOUT_SECONDS)
        for future in futures:
            future.get(timeout=SEND_TIMEOUT_SECONDS)

    def close(self) -> None:
        self._producer.close(timeout=SEND_TIMEOUT_SECONDS)

    def __enter__(self) -> "Publisher":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
