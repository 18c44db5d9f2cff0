"""What the SendGrid-path benchmarks share: the embedded broker, the local SendGrid-API
server in this process, a SQLite file, and settings that point a worker at all three;
and py-spy, for those that profile a worker."""

import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from broadcaster.config import Settings
from broadcaster.embedded.broker import CLIENT_SETTINGS, EmbeddedBroker, free_port, start_broker
from broadcaster.kafka.topics import ensure_topics
from broadcaster.storage.database import upgrade
from tests.support.sendgrid_server import SandboxServer, SandboxState

KEY = "bench-key"


@dataclass(frozen=True)
class Bench:
    broker: EmbeddedBroker
    sandbox: SandboxServer
    settings: Settings

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap


@contextmanager
def sendgrid_system(name: str, state: SandboxState | None = None, **overrides: object) -> Iterator[Bench]:
    """A migrated database, topics, the broker and the API server; the worker is the caller's to start."""
    with tempfile.TemporaryDirectory() as folder:
        broker = start_broker(Path(folder) / "broker.log")
        sandbox = SandboxServer(state or SandboxState(KEY)).start_in_background()
        run = uuid.uuid4().hex[:8]
        values: dict[str, object] = {
            "database_url": f"sqlite:///{folder}/{name}.db", "topic_prefix": f"{name}-{run}.",
            "app_id": f"{name}-{run}", "sendgrid_api_key": sandbox.state.api_key,
            "sendgrid_api_host": sandbox.url, "state_dir": Path(folder) / "state", "worker_web_port": free_port(),
            # SendGrid on: the worker refuses to start without a real secret and an https public URL.
            "unsubscribe_secret": "bench-secret-" + "x" * 32, "public_url": "https://status.example.com",
            **CLIENT_SETTINGS, **overrides,
        }
        settings = Settings(**values)
        try:
            upgrade(settings.database_url)
            ensure_topics(settings, broker.bootstrap)
            yield Bench(broker, sandbox, settings)
        finally:
            sandbox.shutdown()
            broker.stop()


def profile(pid: int, path: str, rate: int = 100) -> subprocess.Popen[bytes]:
    """py-spy sampling a worker (all its threads) into ``path`` as collapsed stacks; stop it with SIGINT.

    Only the samples that hold the GIL: a thread waiting for it is not idle to the OS, and
    counting those would blame whatever released it last (a socket call, a random read).
    """
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))  # the venv's, not on PATH
    return subprocess.Popen([spy, "record", "--gil", "--pid", str(pid), "--format", "raw", "--output", path,
                             "--rate", str(rate), "--threads"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
