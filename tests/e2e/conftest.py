"""End-to-end fixtures: a real worker process on the session's broker, driven through the real CLI."""

import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from email.utils import parseaddr

import pytest
from click.testing import CliRunner, Result
from kafka import KafkaConsumer
from sqlalchemy import func, select

from broadcaster.cli.main import cli
from broadcaster.config import Settings
from broadcaster.domain.email import fill
from broadcaster.kafka.topics import Topics, ensure_topics
from broadcaster.storage.database import make_engine
from broadcaster.storage.models import Report
from tests.support.sendgrid_server import SandboxServer, SandboxState
from tests.support.worker import running_worker, settings_environment

# With SendGrid on, the worker refuses to start without these (broadcaster/production.py).
PRODUCTION_UNSUBSCRIBE = {"unsubscribe_secret": "e2e-secret-" + "x" * 32, "public_url": "https://status.example.com"}


@dataclass
class System:
    """One running worker plus the ways a test talks to it and looks at what came out."""

    settings: Settings
    bootstrap: str
    sandbox: SandboxServer | None

    @property
    def topics(self) -> Topics:
        return Topics.from_prefix(self.settings.topic_prefix)

    def invoke(self, *args: str, input: str | None = None) -> Result:
        """Run a ``broadcaster`` command as a user would, against this system, whatever its exit status."""
        env = settings_environment(self.settings) | {"BROADCASTER_KAFKA_BOOTSTRAP": self.bootstrap}
        return CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)

    def run(self, *args: str, input: str | None = None) -> Result:
        """Run a ``broadcaster`` command that must succeed (``input``: its standard input)."""
        result = self.invoke(*args, input=input)
        assert result.exit_code == 0, result.output
        return result

    def emails(self) -> list[dict[str, str]]:
        """Every email that left, whichever backend: recipient, kind, incident, subject, text."""
        if self.sandbox is not None:
            return [email for body in list(self.sandbox.state.accepted) for email in _from_sendgrid(body)]
        parser = BytesParser(policy=policy.default)
        return [_from_eml(parser.parse(path.open("rb"))) for path in sorted(self.settings.outbox_dir.glob("*.eml"))]

    def counts(self) -> dict[str, Counter[str]]:
        result: dict[str, Counter[str]] = {}
        for email in self.emails():
            result.setdefault(email["to"], Counter())[email["kind"]] += 1
        return result

    def stored_reports(self) -> int:
        engine = make_engine(self.settings.database_url)
        try:
            with engine.connect() as connection:
                return connection.scalar(select(func.count()).select_from(Report)) or 0
        finally:
            engine.dispose()

    def records(self, topic: str, expected: int, timeout: float = 30.0) -> list[bytes]:
        """Read ``expected`` records from the start of ``topic`` (fails if they do not come)."""
        consumer = KafkaConsumer(topic, bootstrap_servers=self.bootstrap, auto_offset_reset="earliest",
                                 enable_auto_commit=False, consumer_timeout_ms=int(timeout * 1000))
        values = []
        for record in consumer:
            values.append(record.value)
            if len(values) >= expected:
                break
        consumer.close()
        assert len(values) >= expected, f"only {len(values)} of {expected} records on {topic}"
        return values

    def all_records(self, topic: str, quiet_seconds: float = 3.0) -> list[bytes]:
        """Every record on ``topic``: read from the start until nothing new comes for ``quiet_seconds``.

        Only for topics whose writers have finished (a producer that flushed before this call).
        """
        consumer = KafkaConsumer(topic, bootstrap_servers=self.bootstrap, auto_offset_reset="earliest",
                                 enable_auto_commit=False, consumer_timeout_ms=int(quiet_seconds * 1000))
        values = [record.value for record in consumer]
        consumer.close()
        return values


def _from_eml(message) -> dict[str, str]:
    return {
        "to": parseaddr(str(message["To"]))[1],
        "kind": str(message["X-Broadcaster-Kind"]),
        "incident": str(message["X-Broadcaster-Incident"] or ""),  # none on a receipt: it is about a report
        "subject": str(message["Subject"]),
        "text": message.get_body(("plain",)).get_content(),
    }


def _from_sendgrid(body: dict) -> list[dict[str, str]]:
    """One email per personalization, its text filled in as SendGrid would."""
    emails = []
    for personalization in body["personalizations"]:
        [to] = personalization["to"]
        emails.append({
            "to": to["email"],
            "kind": body["headers"]["X-Broadcaster-Kind"],
            "incident": body["headers"].get("X-Broadcaster-Incident", ""),
            "subject": body["subject"],
            "text": fill(body["content"][0]["value"], personalization.get("substitutions", {})),
        })
    return emails


@pytest.fixture
def system_factory(broker: str, settings_factory: Callable[..., Settings]) -> Iterator[Callable[..., System]]:
    """Start a worker on fresh topics with the given database and mail backend."""
    with ExitStack() as stack:

        def start(database_url: str, mail: str = "outbox", **settings_overrides: object) -> System:
            sandbox, overrides = None, dict(settings_overrides)
            if mail == "sendgrid":
                sandbox = SandboxServer(SandboxState(api_key="e2e-key")).start_in_background()
                stack.callback(sandbox.server_close)
                stack.callback(sandbox.shutdown)
                overrides = {**PRODUCTION_UNSUBSCRIBE, **overrides,
                             "sendgrid_api_key": "e2e-key", "sendgrid_api_host": sandbox.url}
            settings = settings_factory(database_url, **overrides)
            ensure_topics(settings, broker)
            stack.enter_context(running_worker(settings, broker))
            return System(settings, broker, sandbox)

        yield start


def dead_letters(system: System, expected: int) -> list[dict]:
    return [json.loads(value) for value in system.records(system.topics.dead_letters, expected)]


@pytest.fixture
def read_dead_letters() -> Callable[[System, int], list[dict]]:
    return dead_letters
