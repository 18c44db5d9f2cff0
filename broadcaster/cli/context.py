"""What every command needs, built on first use so ``--help`` never connects to anything."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TypeVar

import click
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from broadcaster.bootstrap import Services, bootstrap, utc_now
from broadcaster.config import Settings
from broadcaster.embedded.runtime import NoBrokerConfigured, resolve_bootstrap
from broadcaster.kafka.topics import Topics
from broadcaster.services import outbox
from broadcaster.storage.database import driver_reason, shown_url
from broadcaster.wire.errors import InvalidMessage

T = TypeVar("T")
POLL_SECONDS = 0.02  # a read of one indexed row: polling often costs the database little and the user no wait


class CliContext:
    def __init__(self) -> None:
        self.settings = Settings()
        self.topics = Topics.from_prefix(self.settings.topic_prefix)
        self.broker_unreachable = False

    @cached_property
    def services(self) -> Services:
        return bootstrap(self.settings)

    @cached_property
    def bootstrap_servers(self) -> str:
        try:
            return resolve_bootstrap(self.settings)
        except NoBrokerConfigured as error:
            raise click.ClickException(str(error)) from None

    def publish(self, topic: str, key: str, value: bytes) -> None:
        """Accept a message: committed to the outbox, then published if the broker answers (cli/accepting.py)."""
        self.accept(lambda session: outbox.add(session, topic, key.encode(), value, utc_now()))

    def accept(self, write: Callable[[Session], int]) -> int:
        """Commit ``write``, which adds one message to the outbox, then publish what is owed up to it.

        Once the broker has failed to answer, later messages of the same command are only
        committed: the relay publishes them all, and the command does not wait again.
        """
        from broadcaster.cli import accepting  # the Kafka client, only for commands that publish

        message_id = accepting.commit(self.services, write)
        if not self.broker_unreachable:
            self.broker_unreachable = not accepting.publish_now(self.services, message_id)
        return message_id

    def read(self, query: Callable[..., T]) -> T:
        """Run a read-only query in a session, with a clear message if the schema is missing."""
        try:
            with self.services.sessions() as session:
                return query(session)
        except OperationalError as error:
            raise click.ClickException(
                f"cannot read the database at {shown_url(self.settings.database_url)} ({driver_reason(error)}); "
                "run `broadcaster up` or `broadcaster db upgrade` first"
            ) from None

    def wait_for(self, query: Callable[..., T | None], timeout: float) -> T | None:
        """Poll the database until ``query`` returns something, or give up after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.read(query)
            if found or time.monotonic() >= deadline:
                return found
            time.sleep(POLL_SECONDS)


@contextmanager
def refusing_bad_input() -> Iterator[None]:
    """Input that breaks the input rules ends the command with the reason and exit status 1, unsent."""
    try:
        yield
    except InvalidMessage as error:
        raise click.ClickException(f"not sent: {error}") from None


pass_cli = click.make_pass_decorator(CliContext, ensure=True)
