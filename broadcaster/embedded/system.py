"""Run the whole system on one machine: migrations, the broker (unless one is configured), a worker.

Used by ``broadcaster up`` (until Ctrl-C) and by ``broadcaster demo`` when nothing runs yet.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from broadcaster.bootstrap import make_mailer
from broadcaster.config import Settings
from broadcaster.embedded.broker import EmbeddedBroker, start_broker
from broadcaster.embedded.runtime import Runtime, clear_runtime, write_runtime
from broadcaster.kafka.topics import ensure_topics
from broadcaster.production import UnsafeSettings, refuse_unsafe
from broadcaster.storage.database import upgrade

WORKER_READY_TIMEOUT_SECONDS = 90
WORKER_STOP_TIMEOUT_SECONDS = 20
READY_LINE = "[^Worker]: Ready"


class StartupError(RuntimeError):
    pass


@dataclass(frozen=True)
class RunningSystem:
    kafka_bootstrap: str
    embedded_broker: bool
    database_url: str
    mail: str
    worker_pid: int
    worker_log: Path


def worker_environment(settings: Settings, bootstrap: str) -> dict[str, str]:
    """The worker reads the same settings, with the broker address made explicit."""
    env = {**os.environ, "BROADCASTER_KAFKA_BOOTSTRAP": bootstrap}
    if settings.embedded_broker:
        env["BROADCASTER_KAFKA_IDEMPOTENCE"] = "false"
        env["BROADCASTER_KAFKA_FETCH_MAX_WAIT"] = str(settings.fetch_max_wait)
    return env


def start_worker(settings: Settings, bootstrap: str, log_path: Path) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "streams", "worker", "--loglevel", "info"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=worker_environment(settings, bootstrap),
        )


def wait_until_ready(worker: subprocess.Popen[bytes], log_path: Path, since: int) -> None:
    deadline = time.monotonic() + WORKER_READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise StartupError(f"the worker exited with status {worker.returncode}; see {log_path}")
        with open(log_path, "rb") as log:
            log.seek(since)
            if READY_LINE.encode() in log.read():
                return
        time.sleep(0.2)
    raise StartupError(f"the worker was not ready after {WORKER_READY_TIMEOUT_SECONDS}s; see {log_path}")


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=WORKER_STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


@contextmanager
def running_system(settings: Settings) -> Iterator[RunningSystem]:
    """Start everything, yield where it is, and stop every child process on the way out.

    Unsafe production settings are refused here, before anything starts, rather than by
    the worker (which refuses them too) in a log file nobody is looking at.
    """
    try:
        refuse_unsafe(settings)
    except UnsafeSettings as error:
        raise StartupError(str(error)) from None
    upgrade(settings.database_url)
    broker: EmbeddedBroker | None = None
    worker: subprocess.Popen[bytes] | None = None
    try:
        if settings.embedded_broker:
            broker = start_broker(settings.state_dir / "broker.log")
        bootstrap = settings.kafka_bootstrap or broker.bootstrap  # type: ignore[union-attr]
        ensure_topics(settings, bootstrap)
        log_path = settings.state_dir / "worker.log"
        since = log_path.stat().st_size if log_path.exists() else 0
        worker = start_worker(settings, bootstrap, log_path)
        write_runtime(
            settings,
            Runtime(bootstrap, os.getpid(), settings.database_url, str(settings.outbox_dir)),
        )
        wait_until_ready(worker, log_path, since)
        yield RunningSystem(
            kafka_bootstrap=bootstrap,
            embedded_broker=broker is not None,
            database_url=settings.database_url,
            mail=make_mailer(settings).describe(),
            worker_pid=worker.pid,
            worker_log=log_path,
        )
    finally:
        clear_runtime(settings)
        if worker is not None:
            stop_worker(worker)
        if broker is not None:
            broker.stop()
