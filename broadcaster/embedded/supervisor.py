"""``broadcaster up``: start the broker, the worker and the intake API, keep them up, and stop them in order.

- A worker or intake API that dies is restarted after 1 s, then 2, 4 ... up to 30 s while it
  keeps dying (back to 1 s once one has lived 30 s); each restart is reported with how the
  last one ended.
- The embedded broker keeps everything in memory, so one that dies comes back empty: it is
  restarted on the same port (where every client was told it is), the topics are created
  again, and the worker is restarted so that it reconnects and starts clean from the
  database. Three broker failures within a minute end ``up`` with the reason.
- Ctrl-C, SIGTERM or SIGHUP stop the intake API and the worker first (the worker commits
  against a live broker), then the broker. The children run in sessions of their own, so the terminal's Ctrl-C reaches
  only ``up``, which keeps that order.
"""

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from kafka.errors import KafkaError
from sqlalchemy.exc import OperationalError

from broadcaster.bootstrap import make_mailer
from broadcaster.config import Settings
from broadcaster.embedded.broker import BrokerError, EmbeddedBroker, start_broker
from broadcaster.embedded.ports import (
    BROKER_PORT_SETTING,
    INTAKE_PORT_SETTING,
    WORKER_WEB_PORT_SETTING,
    PortInUse,
    ensure_free,
)
from broadcaster.embedded.runtime import Runtime, clear_runtime, write_runtime
from broadcaster.embedded.system import (
    WORKER_READY_TIMEOUT_SECONDS,
    StartupError,
    exit_reason,
    exit_status,
    intake_ready,
    intake_url,
    start_intake,
    start_worker,
    stop_worker,
    worker_ready,
)
from broadcaster.kafka.topics import ensure_topics
from broadcaster.production import UnsafeSettings, refuse_unsafe
from broadcaster.storage.database import driver_reason, shown_url, upgrade

POLL_SECONDS = 0.5
BROKER_FAILURE_LIMIT = 3
BROKER_FAILURE_WINDOW_SECONDS = 60.0
BROKER_RETRY_SECONDS = 1.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
Say = Callable[[str], None]


class BrokerLost(RuntimeError):
    pass


class Backoff:
    """How long to wait before restarting a worker that died: doubling from ``first`` up to ``cap``."""

    def __init__(self, first: float = 1.0, cap: float = 30.0) -> None:
        self.first, self.cap = first, cap
        self._next = first

    def delay(self, lived: float) -> float:
        """The wait after a worker that lived ``lived`` seconds; one that lived ``cap`` resets it."""
        if lived >= self.cap:
            self._next = self.first
        delay, self._next = self._next, min(self._next * 2, self.cap)
        return delay


class FailureWindow:
    """Failures in the last ``window`` seconds; ``record`` says when there are ``limit`` of them."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._times: list[float] = []

    def record(self, now: float) -> bool:
        self._times = [*(at for at in self._times if now - at < self.window), now]
        return len(self._times) >= self.limit


def listen_url(settings: Settings) -> str:
    host = settings.worker_web_host
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.worker_web_port}"


@dataclass
class Child:
    """A process ``up`` keeps running (the worker, the intake API): how to start it, and when it is ready."""

    name: str
    launch: Callable[[Path], "subprocess.Popen[bytes]"]
    log_path: Path
    is_ready: Callable[["Child"], bool]
    port_setting: str
    backoff: Backoff = field(default_factory=Backoff)
    process: "subprocess.Popen[bytes] | None" = None
    since: int = 0  # where this run's lines start in the log
    started: float = 0.0
    ready_said: bool = False

    @property
    def running(self) -> "subprocess.Popen[bytes]":
        assert self.process is not None, "a child is started before it is watched"
        return self.process

    def start(self) -> None:
        self.since = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.process = self.launch(self.log_path)
        self.started, self.ready_said = time.monotonic(), False

    def exit_reason(self) -> str:
        return exit_reason(self.running.returncode, self.log_path, self.since, self.port_setting)

    def wait_until_ready(self, stop: threading.Event) -> None:
        """Return once ready (or ``stop`` is set); StartupError saying why if it exits or takes too long."""
        deadline = time.monotonic() + WORKER_READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.running.poll() is not None:
                raise StartupError(f"the {self.name} {self.exit_reason()}; see {self.log_path}")
            if stop.is_set() or self.is_ready(self):
                return
            time.sleep(0.2)
        raise StartupError(f"the {self.name} was not ready after {WORKER_READY_TIMEOUT_SECONDS}s; see {self.log_path}")


class Supervisor:
    def __init__(self, settings: Settings, stop: threading.Event, say: Say = lambda _: None) -> None:
        self.settings = settings
        self.broker: EmbeddedBroker | None = None
        self._stop, self._say = stop, say
        state = settings.state_dir
        self.worker = Child("worker", lambda log: start_worker(settings, self.bootstrap, log), state / "worker.log",
                            lambda child: worker_ready(child.log_path, child.since), WORKER_WEB_PORT_SETTING)
        self.intake = Child("intake API", lambda log: start_intake(settings, self.bootstrap, log),
                            state / "intake.log", lambda _: intake_ready(settings), INTAKE_PORT_SETTING)
        self._children = (self.worker, self.intake)
        self._runtime_written = False
        self._broker_failures = FailureWindow(BROKER_FAILURE_LIMIT, BROKER_FAILURE_WINDOW_SECONDS)

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap if self.broker else str(self.settings.kafka_bootstrap)

    def start(self) -> None:
        """Start everything; return once every child is ready or ``stop`` is set. StartupError says why not.

        Unsafe production settings and taken ports are refused before anything starts, rather
        than by a child in a log file nobody is looking at.
        """
        settings = self.settings
        try:
            refuse_unsafe(settings)
            self._check_ports()
            self._migrate()
            if settings.embedded_broker:
                self.broker = start_broker(settings.state_dir / "broker.log", settings.embedded_broker_port)
            self._create_topics()
        except (UnsafeSettings, PortInUse, BrokerError) as error:
            raise StartupError(str(error)) from None
        for child in self._children:
            child.start()
        write_runtime(settings, Runtime(self.bootstrap, os.getpid(), listen_url(settings),
                                        shown_url(settings.database_url), str(settings.outbox_dir)))
        self._runtime_written = True
        for child in self._children:
            child.wait_until_ready(self._stop)
            child.ready_said = True

    def _check_ports(self) -> None:
        settings = self.settings
        ensure_free(settings.worker_web_host, settings.worker_web_port, WORKER_WEB_PORT_SETTING)
        ensure_free(settings.intake_host, settings.intake_port, INTAKE_PORT_SETTING)
        if settings.embedded_broker and settings.embedded_broker_port:
            ensure_free("127.0.0.1", settings.embedded_broker_port, BROKER_PORT_SETTING)

    def _migrate(self) -> None:
        try:
            upgrade(self.settings.database_url)
        except OperationalError as error:
            raise StartupError(f"cannot migrate the database at {shown_url(self.settings.database_url)}: "
                               f"{driver_reason(error)}") from None

    def _create_topics(self) -> None:
        try:
            ensure_topics(self.settings, self.bootstrap)
        except KafkaError as error:
            raise BrokerError(f"cannot create the topics on Kafka at {self.bootstrap}: {error}") from None

    def addresses(self) -> list[str]:
        """Every address the system serves, for the person who started it."""
        settings, web, intake = self.settings, listen_url(self.settings), intake_url(self.settings)
        kafka = f"embedded broker pid {self.broker.process.pid}, log {self.broker.log_path}" if self.broker else "Kafka cluster"
        return [
            f"  Kafka:     {self.bootstrap} ({kafka})",
            f"  Worker:    pid {self.worker.running.pid}, log {self.worker.log_path}",
            f"  Web:       {web}/health/live  {web}/health/ready  {web}/metrics",
            f"             {web}/unsubscribe  {web}/webhooks/sendgrid",
            f"  Intake:    pid {self.intake.running.pid}, log {self.intake.log_path}",
            f"             {intake}/v1/reports  {intake}/docs (keys: broadcaster api-keys create NAME)",
            f"  Pages:     {intake}/  {intake}/incidents/ID  {intake}/feed.atom  {intake}/api/v1/incidents.json",
            f"  Database:  {shown_url(settings.database_url)}",
            f"  Email:     {make_mailer(settings).describe()}",
            f"  Topics:    {settings.topic_prefix}*",
        ]

    def watch(self) -> None:
        """Keep the broker and the children up until ``stop`` is set; BrokerLost if the broker cannot be kept up."""
        while not self._stop.wait(POLL_SECONDS):
            if self.broker is not None and self.broker.process.poll() is not None:
                self._recover_broker(f"the embedded broker {exit_status(self.broker.process.returncode)}")
                continue
            for child in self._children:
                if child.running.poll() is not None:
                    self._restart(child)
                elif not child.ready_said and child.is_ready(child):
                    child.ready_said = True
                    self._event(f"{child.name} ready (pid {child.running.pid})")

    def stop(self) -> None:
        """The intake API and the worker first, so that they finish against a live broker; then the broker."""
        if self._runtime_written:
            clear_runtime(self.settings)
        for child in reversed(self._children):
            if child.process is not None and child.process.poll() is None:
                self._event(f"stopping the {child.name} (pid {child.process.pid})")
                self._event(f"{child.name} {stop_worker(child.process)}")
        if self.broker is not None and self.broker.process.poll() is None:
            self._event(f"stopping the embedded broker (pid {self.broker.process.pid})")
            self.broker.stop()
            self._event(f"embedded broker {exit_status(self.broker.process.returncode)}")

    def _restart(self, child: Child) -> None:
        delay = child.backoff.delay(lived=time.monotonic() - child.started)
        self._event(f"the {child.name} (pid {child.running.pid}) {child.exit_reason()}; restarting it in {delay:g} s")
        if not self._stop.wait(delay):
            child.start()
            self._event(f"{child.name} restarted: pid {child.running.pid}")

    def _recover_broker(self, reason: str) -> None:
        """Restart the memory broker on its port, re-create the topics, restart the worker against it.

        The intake API keeps running: what it accepts waits in the SQL outbox, and its
        publisher reconnects by itself.
        """
        assert self.broker is not None
        port, log_path, worker = self.broker.port, self.broker.log_path, self.worker.running
        attempt = "restarting it"
        while not self._stop.is_set():
            if self._broker_failures.record(time.monotonic()):
                raise BrokerLost(f"{reason}: {BROKER_FAILURE_LIMIT} broker failures within "
                                 f"{BROKER_FAILURE_WINDOW_SECONDS:g} s, giving up; see {log_path}")
            self._event(f"{reason}; {attempt} on port {port} (empty: topics re-created, worker restarted)")
            if worker.poll() is None:  # it cannot go on against an empty broker
                self._event(f"the worker (pid {worker.pid}) {stop_worker(worker)}")
            try:
                ensure_free("127.0.0.1", port, BROKER_PORT_SETTING)
                self.broker = start_broker(log_path, port)
                self._create_topics()
            except (PortInUse, BrokerError) as error:
                self.broker.stop()
                reason, attempt = f"the embedded broker could not be restarted ({error})", "trying again"
                self._stop.wait(BROKER_RETRY_SECONDS)
                continue
            self.worker.start()
            self._event(f"embedded broker back on port {port} (pid {self.broker.process.pid}); "
                        f"worker restarted: pid {self.worker.running.pid}")
            return

    def _event(self, message: str) -> None:
        self._say(f"[{time.strftime('%H:%M:%S')}] {message}")


@contextmanager
def running_system(settings: Settings) -> Iterator[Supervisor]:
    """Everything started for the length of a ``with`` block (``broadcaster demo``), and stopped in order."""
    supervisor = Supervisor(settings, threading.Event())
    try:
        supervisor.start()
        yield supervisor
    finally:
        supervisor.stop()


def supervise(settings: Settings, say: Say) -> None:
    """``broadcaster up``: start, say where everything is, keep it up until a stop signal, stop in order."""
    stop = threading.Event()
    previous = {signum: signal.signal(signum, lambda *_: stop.set()) for signum in STOP_SIGNALS}
    supervisor = Supervisor(settings, stop, say)
    say("Starting Broadcaster...")
    try:
        supervisor.start()
        if not stop.is_set():
            say("\n".join(supervisor.addresses()))
            say("Broadcaster is running. Try `broadcaster demo` in another terminal. Ctrl-C stops it.")
        supervisor.watch()
    finally:
        supervisor.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    say("Stopped.")
