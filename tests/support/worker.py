"""A real Faust worker (``python -m streams worker``) in a child process, as production runs it."""

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from broadcaster.config import Settings
from broadcaster.embedded.system import start_worker, stop_worker, wait_until_ready


def settings_environment(settings: Settings) -> dict[str, str]:
    """The BROADCASTER_* variables that reproduce ``settings`` in a child process."""
    env = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if hasattr(value, "total_seconds"):
            value = f"{int(value.total_seconds())}s"
        env[f"BROADCASTER_{name.upper()}"] = str(value)
    return env


@contextmanager
def running_worker(settings: Settings, bootstrap: str) -> Iterator[subprocess.Popen[bytes]]:
    saved = dict(os.environ)
    os.environ.update(settings_environment(settings))
    log_path = Path(settings.state_dir) / "worker.log"
    since = log_path.stat().st_size if log_path.exists() else 0  # a restart appends: wait for its own "Ready"
    try:
        worker = start_worker(settings, bootstrap, log_path)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        wait_until_ready(worker, log_path, since)
        yield worker
    finally:
        stop_worker(worker)
