"""The processes of the one-machine system: start them, know when they are ready, say why they ended, stop them.

``broadcaster up`` (see supervisor.py) and the tests start the worker (``python -m streams
worker``) and the intake API (``python -m broadcaster serve``) through these, so both run
them the way production does.
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from broadcaster.config import Settings
from broadcaster.embedded.ports import WORKER_WEB_PORT_SETTING, in_use_message

WORKER_READY_TIMEOUT_SECONDS = 90
WORKER_STOP_TIMEOUT_SECONDS = 5
READY_LINE = "[^Worker]: Ready"
# How aiohttp (the worker) and uvicorn (the intake API) report a port that is taken, in their logs.
_BIND_FAILURE = re.compile(rb"bind on address \('[^']*', (\d+)\): address already in use")


class StartupError(RuntimeError):
    pass


def worker_environment(settings: Settings, bootstrap: str) -> dict[str, str]:
    """The worker reads the same settings, with the broker address made explicit."""
    env = {**os.environ, "BROADCASTER_KAFKA_BOOTSTRAP": bootstrap}
    if settings.embedded_broker:
        env["BROADCASTER_KAFKA_IDEMPOTENCE"] = "false"
        env["BROADCASTER_KAFKA_FETCH_MAX_WAIT"] = str(settings.fetch_max_wait)
    return env


def start_worker(settings: Settings, bootstrap: str, log_path: Path) -> subprocess.Popen[bytes]:
    """Start a worker logging to ``log_path``, in a session of its own: a Ctrl-C reaches only its parent."""
    return _start([sys.executable, "-m", "streams", "worker", "--loglevel", "info"], settings, bootstrap, log_path)


def start_intake(settings: Settings, bootstrap: str, log_path: Path) -> subprocess.Popen[bytes]:
    """Start ``broadcaster serve`` logging to ``log_path``, like the worker."""
    return _start([sys.executable, "-m", "broadcaster", "serve"], settings, bootstrap, log_path)


def _start(command: list[str], settings: Settings, bootstrap: str, log_path: Path) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                env=worker_environment(settings, bootstrap), start_new_session=True)


def intake_url(settings: Settings) -> str:
    host = settings.intake_host
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.intake_port}"


def intake_ready(settings: Settings) -> bool:
    """Whether the intake API answers its liveness probe."""
    try:
        with urllib.request.urlopen(f"{intake_url(settings)}/health/live", timeout=1) as answer:
            return bool(answer.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _log_since(log_path: Path, since: int) -> bytes:
    with open(log_path, "rb") as log:
        log.seek(since)
        return log.read()


def worker_ready(log_path: Path, since: int) -> bool:
    """Whether the worker that started writing at offset ``since`` of its log has said it is ready."""
    return READY_LINE.encode() in _log_since(log_path, since)


def wait_until_ready(
    worker: subprocess.Popen[bytes], log_path: Path, since: int, stop: threading.Event | None = None
) -> None:
    """Return once the worker is ready (or ``stop`` is set); StartupError saying why if it exits first."""
    deadline = time.monotonic() + WORKER_READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise StartupError(f"the worker {exit_reason(worker.returncode, log_path, since)}; see {log_path}")
        if worker_ready(log_path, since) or (stop is not None and stop.is_set()):
            return
        time.sleep(0.2)
    raise StartupError(f"the worker was not ready after {WORKER_READY_TIMEOUT_SECONDS}s; see {log_path}")


def exit_status(returncode: int) -> str:
    if returncode < 0:
        return f"was killed by {signal.Signals(-returncode).name}"
    return f"exited with status {returncode}"


def exit_reason(returncode: int, log_path: Path, since: int, port_setting: str = WORKER_WEB_PORT_SETTING) -> str:
    """How a process ended, with the setting to change when its port was taken."""
    found = _BIND_FAILURE.search(_log_since(log_path, since))
    if found is None:
        return exit_status(returncode)
    return f"{exit_status(returncode)}: {in_use_message(int(found.group(1)), port_setting)}"


def stop_worker(worker: subprocess.Popen[bytes]) -> str:
    """SIGTERM, then SIGKILL if it has not stopped within 5 s; say how it ended (the worker or the intake API)."""
    if worker.poll() is not None:
        return exit_status(worker.returncode)
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=WORKER_STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
        return f"did not stop within {WORKER_STOP_TIMEOUT_SECONDS} s of SIGTERM and was killed"
    if worker.returncode == -signal.SIGTERM:  # uvicorn shuts down cleanly, then re-raises the signal it caught
        return "shut down on SIGTERM"
    return exit_status(worker.returncode)
