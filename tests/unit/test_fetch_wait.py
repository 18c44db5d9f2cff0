"""The consumer fetch wait reaches the aiokafka consumer Faust builds (see streams/transport.py)."""

import asyncio
from pathlib import Path

import pytest

from broadcaster.bootstrap import bootstrap
from broadcaster.config import Settings
from streams.app import create_app


def consumer_wait_ms(settings: Settings) -> int:
    async def build() -> int:
        app = create_app(bootstrap(settings), "127.0.0.1:9")  # nothing connects until the consumer starts
        consumer = app.consumer._thread._create_worker_consumer(app.transport)
        await consumer.stop()
        return consumer._fetch_max_wait_ms

    return asyncio.run(build())


@pytest.mark.parametrize(("configured", "expected"), [(None, 1500), (0.05, 50), (0.2, 200)])
def test_the_fetch_wait_is_what_the_settings_say(tmp_path: Path, configured: float | None, expected: int) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/x.db", kafka_bootstrap="kafka-1:9092",
                        kafka_fetch_max_wait=configured, state_dir=tmp_path)
    assert consumer_wait_ms(settings) == expected


def test_the_embedded_broker_gets_a_short_wait() -> None:
    assert Settings().fetch_max_wait == 0.05
    assert Settings(kafka_bootstrap="kafka-1:9092").fetch_max_wait == 1.5
