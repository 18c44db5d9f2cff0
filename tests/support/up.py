"""``broadcaster up`` as a person runs it: a child process in a folder of its own, with its own ports and state."""

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner, Result

from broadcaster.cli.main import cli
from broadcaster.embedded.broker import free_port
from tests.support.waiting import wait_for


def up_environment(folder: Path, **settings: str) -> dict[str, str]:
    """No BROADCASTER_* variable from outside; a SQLite file, state and outbox in ``folder``; free web ports."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("BROADCASTER_")}
    values = {
        "database_url": f"sqlite:///{folder / 'broadcaster.db'}",
        "state_dir": str(folder / "state"),
        "outbox_dir": str(folder / "outbox"),
        "worker_web_port": str(free_port()),
        "intake_port": str(free_port()),
        "broker_session_timeout": "6",
        **settings,
    }
    return env | {f"BROADCASTER_{name.upper()}": value for name, value in values.items()}


def broadcaster(folder: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run one ``broadcaster`` command in a process of its own in ``folder``, whatever its exit status."""
    return subprocess.run([sys.executable, "-m", "broadcaster", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120)


def invoke(env: dict[str, str], *args: str) -> Result:
    """Run one ``broadcaster`` command in this process (faster) with the settings of ``env``.

    Only for commands whose paths are all absolute in ``env`` (see up_environment): the folder does not change.
    """
    ours = {name: value for name, value in env.items() if name.startswith("BROADCASTER_")}
    outside: dict[str, str | None] = {name: None for name in os.environ if name.startswith("BROADCASTER_")}
    return CliRunner().invoke(cli, list(args), env=outside | ours, catch_exceptions=False)


@dataclass
class Up:
    process: subprocess.Popen[bytes]
    folder: Path
    env: dict[str, str]
    output_path: Path

    def output(self) -> str:
        return self.output_path.read_text()

    def wait_for(self, text: str, after: int = 0, timeout: float = 60.0) -> int:
        """The end of the first ``text`` that ``up`` printed after offset ``after``; fails if it exits first."""

        def printed() -> int | None:
            found = self.output().find(text, after)
            if found < 0 and self.process.poll() is not None:
                raise AssertionError(f"`broadcaster up` exited ({self.process.returncode}) before {text!r}:\n{self.output()}")
            return found + len(text) if found >= 0 else None

        return wait_for(printed, timeout=timeout, what=f"`broadcaster up` to print {text!r}")

    def pid(self, pattern: str, after: int = 0) -> int:
        """The number that ``pattern`` (a regular expression with one group) finds in the output after ``after``."""
        found = re.search(pattern, self.output()[after:])
        assert found, f"{pattern!r} not in:\n{self.output()}"
        return int(found.group(1))

    def invoke(self, *args: str) -> Result:
        """Another ``broadcaster`` command with the same settings, run in this process."""
        return invoke(self.env, *args)


@contextmanager
def running_up(folder: Path, env: dict[str, str]) -> Iterator[Up]:
    """``broadcaster up`` until the block ends (then SIGTERM unless it already exited)."""
    output_path = folder / "up.out"
    with open(output_path, "wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "broadcaster", "up"], cwd=folder, env=env,
                                   stdout=output, stderr=subprocess.STDOUT)
    try:
        yield Up(process, folder, env, output_path)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
