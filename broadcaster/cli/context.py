"""What every command needs, built on first use so ``--help`` never connects to anything."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TypeVar

import click
from sqlalchemy.exc import OperationalError

from broadcaster.bootstrap import Services, bootstrap
from broadcaster.config import Settings
from broadcaster.embedded.runtime import NoBrokerConfigured, resolve_bootstrap
from broadcaster.kafka.producer import Publisher
from broadcaster.kafka.topics import Topics
from broadcaster.wire.errors import InvalidMessage

T = TypeVar("T")
POLL_SECONDS = 0.1


class CliContext:
    def __init__(self) -> None:
        self.settings = Settings()
        self.topics = Topics.from_prefix(self.settings.topic_prefix)

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
        with Publisher(self.settings, self.bootstrap_servers) as publisher:
            publisher.publish(topic, key, value)

    def read(self, query: Callable[..., T]) -> T:
        """Run a read-only query in a session, with a clear message if the schema is missing."""
        try:
            with self.services.sessions() as session:
                return query(session)
        except OperationalError as error:
            raise click.ClickException(
                f"cannot read the database at {self.settings.database_url} ({error.orig}); "
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
