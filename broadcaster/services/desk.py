"""The engineers' desk: what every command needs, whoever calls it (the CLI, the demo, a script).

Built on first use, so that asking for help never connects to anything. Failures a
person can act on are raised as :class:`CommandFailed` with the words to show; the
CLI turns them into its one-line errors.
"""

import sys
import time
from collections.abc import Callable
from functools import cached_property
from typing import TypeVar

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from broadcaster.bootstrap import Services, bootstrap, utc_now
from broadcaster.config import Settings, load_settings
from broadcaster.embedded.runtime import NoBrokerConfigured, resolve_bootstrap
from broadcaster.kafka.topics import Topics
from broadcaster.services import outbox
from broadcaster.services.errors import CommandFailed
from broadcaster.storage.database import driver_reason, shown_url

T = TypeVar("T")
POLL_SECONDS = 0.02  # a read of one indexed row: polling often costs the database little and the user no wait


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr)


class Desk:
    def __init__(self, settings: Settings | None = None, notify: Callable[[str], None] = _to_stderr) -> None:
        self.settings = settings or load_settings()
        self.topics = Topics.from_prefix(self.settings.topic_prefix)
        self.broker_unreachable = False
        self.notify = notify

    @cached_property
    def services(self) -> Services:
        return bootstrap(self.settings)

    @cached_property
    def bootstrap_servers(self) -> str:
        try:
            return resolve_bootstrap(self.settings)
        except NoBrokerConfigured as error:
            raise CommandFailed(str(error)) from None

    def publish(self, topic: str, key: str, value: bytes) -> None:
        """Accept a message: committed to the outbox, then published if the broker answers (services/accepting.py)."""
        self.accept(lambda session: outbox.add(session, topic, key.encode(), value, utc_now()))

    def accept(self, write: Callable[[Session], int]) -> int:
        """Commit ``write``, which adds one message to the outbox, then publish what is owed up to it.

        Once the broker has failed to answer, later messages of the same command are only
        committed: the relay publishes them all, and the command does not wait again.
        """
        from broadcaster.services import accepting  # the Kafka client, only for commands that publish

        message_id = accepting.commit(self.services, write)
        self.publish_owed(message_id)
        return message_id

    def publish_owed(self, message_id: int) -> None:
        """Publish the outbox up to ``message_id`` unless the broker already failed this command."""
        from broadcaster.services import accepting

        if not self.broker_unreachable:
            self.broker_unreachable = not accepting.publish_now(self.services, message_id, self.notify)

    def read(self, query: Callable[..., T]) -> T:
        """Run a read-only query in a session, with a clear message if the schema is missing."""
        try:
            with self.services.sessions() as session:
                return query(session)
        except OperationalError as error:
            raise CommandFailed(
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
