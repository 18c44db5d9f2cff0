"""What the CLI says it accepted is in the database first: a dead broker delays it, only a dead database refuses it."""

import time
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner, Result
from kafka import KafkaConsumer
from sqlalchemy import select

from broadcaster.cli.main import cli
from broadcaster.config import Settings
from broadcaster.embedded.broker import free_port, start_broker
from broadcaster.storage.database import make_engine
from broadcaster.storage.models import OutboxMessage
from tests.support.worker import settings_environment


def submit(settings: Settings, bootstrap: str, email: str) -> Result:
    env = settings_environment(settings) | {"BROADCASTER_KAFKA_BOOTSTRAP": bootstrap}
    return CliRunner().invoke(cli, ["report", "submit", "-e", email, "-n", "Eve", "-t", "csv upload fails"], env=env)


def outbox_rows(database_url: str) -> list[tuple[bytes | None, bool]]:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(select(OutboxMessage.key, OutboxMessage.published_at).order_by(OutboxMessage.id))
        found = [(key, at is not None) for key, at in rows]
    engine.dispose()
    return found


def test_a_report_submitted_while_the_broker_is_down_is_accepted_at_once_and_published_first_when_it_is_back(
    tmp_path: Path, settings_factory: Callable[..., Settings], database_url: str
) -> None:
    settings, port = settings_factory(database_url), free_port()
    began = time.monotonic()
    down = submit(settings, f"127.0.0.1:{port}", "first@example.com")
    assert down.exit_code == 0 and time.monotonic() - began < 10, down.output
    assert "submitted" in down.stdout and "Traceback" not in down.output
    assert down.stderr.count("\n") == 1 and "it will be published as soon as the broker is back" in down.stderr
    assert outbox_rows(database_url) == [(b"first@example.com", False)]

    broker = start_broker(tmp_path / "broker.log", port=port)
    try:
        up = submit(settings, broker.bootstrap, "second@example.com")
        assert up.exit_code == 0 and up.stderr == "", up.output
        consumer = KafkaConsumer(f"{settings.topic_prefix}bug-reports", bootstrap_servers=broker.bootstrap,
                                 auto_offset_reset="earliest", consumer_timeout_ms=3000)
        keys = sorted(r.key for r in consumer)
        consumer.close()
    finally:
        broker.stop()
    assert keys == [b"first@example.com", b"second@example.com"]
    assert outbox_rows(database_url) == [(b"first@example.com", True), (b"second@example.com", True)]


def test_a_database_that_cannot_take_the_message_makes_the_command_fail_with_a_clear_line(
    tmp_path: Path, settings_factory: Callable[..., Settings], broker: str
) -> None:
    settings = settings_factory(f"sqlite:///{tmp_path / 'never-migrated.db'}")
    refused = submit(settings, broker, "eve@example.com")
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert "not accepted: cannot write to the database" in refused.output and "db upgrade" in refused.output
