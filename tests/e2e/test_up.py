"""``broadcaster up`` keeps the one-machine system up: children that die come back, and it stops in order.

Each test runs the real command in a folder of its own, with its own embedded broker and ports.
"""

import os
import signal
import socket
from pathlib import Path
from urllib.request import urlopen

import pytest
from sqlalchemy import func, select

from broadcaster.storage.database import make_engine
from broadcaster.storage.models import Report
from tests.support.up import Up, invoke, running_up, up_environment
from tests.support.waiting import wait_for


def _stored_reports(up: Up) -> int:
    engine = make_engine(up.env["BROADCASTER_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(Report)) or 0
    finally:
        engine.dispose()


def _report_comes_through(up: Up, number: int) -> None:
    submitted = up.invoke("report", "submit", "--email", f"r{number}@example.com", "--name", f"R{number}",
                          "--text", "The CSV upload to pre-approved members fails")
    assert submitted.exit_code == 0, submitted.output
    wait_for(lambda: _stored_reports(up) == number, timeout=30, what=f"report {number} to be stored")


def _demo_elsewhere_is_refused(up: Up, elsewhere: Path) -> None:
    """A second system on the same machine would collide on the web port: it must say whose it is."""
    elsewhere.mkdir()
    env = up_environment(elsewhere, worker_web_port=up.env["BROADCASTER_WORKER_WEB_PORT"])
    demo = invoke(env, "demo")
    assert demo.exit_code == 1
    [error] = demo.stderr.strip().splitlines()
    assert "BROADCASTER_WORKER_WEB_PORT" in error and f"Broadcaster system running from {up.folder}" in error, error
    assert not (elsewhere / "state").exists()


def test_up_restarts_a_killed_worker_intake_and_broker_and_stops_them_before_the_broker(tmp_path: Path) -> None:
    with running_up(tmp_path, up_environment(tmp_path)) as up:
        started = up.wait_for("Broadcaster is running")
        worker = up.pid(r"Worker: +pid (\d+)")
        os.kill(worker, signal.SIGKILL)
        restarted = up.wait_for(f"the worker (pid {worker}) was killed by SIGKILL; restarting it in 1 s", started)
        up.wait_for("worker ready", restarted)
        _report_comes_through(up, 1)

        intake = up.pid(r"Intake: +pid (\d+)")
        os.kill(intake, signal.SIGKILL)
        again = up.wait_for(f"the intake API (pid {intake}) was killed by SIGKILL; restarting it in 1 s", restarted)
        up.wait_for("intake API ready", again)
        with urlopen(f"http://127.0.0.1:{up.env['BROADCASTER_INTAKE_PORT']}/health/ready", timeout=5) as answer:
            assert answer.status == 200

        _demo_elsewhere_is_refused(up, tmp_path / "elsewhere")

        os.kill(up.pid(r"embedded broker pid (\d+)"), signal.SIGKILL)
        back = up.wait_for("embedded broker back on port", restarted)
        up.wait_for("worker ready", back)
        _report_comes_through(up, 2)

        up.process.send_signal(signal.SIGINT)
        assert up.process.wait(timeout=30) == 0
    broker, worker = up.pid(r"^ \d+ \(pid (\d+)\)", back), up.pid(r"worker restarted: pid (\d+)", back)
    intake = up.pid(r"intake API restarted: pid (\d+)", again)
    events = [line.split("] ", 1)[-1] for line in up.output()[back:].splitlines() if line.startswith("[")]
    assert events[-6:] == [
        f"stopping the intake API (pid {intake})",
        "intake API shut down on SIGTERM",  # uvicorn's way: it stops cleanly, then re-raises the signal
        f"stopping the worker (pid {worker})",
        "worker exited with status 0",  # within 5 s of SIGTERM, else it would say it was killed
        f"stopping the embedded broker (pid {broker})",
        "embedded broker exited with status 0",
    ], up.output()
    assert up.output().endswith("Stopped.\n")
    worker_log = (tmp_path / "state" / "worker.log").read_text()  # tracebacks (the broker's death) print whole
    assert "[WARNING] Traceback" not in worker_log and "[WARNING] ^" not in worker_log, worker_log


@pytest.mark.parametrize("setting", ["worker_web_port", "intake_port", "embedded_broker_port"])
def test_a_taken_port_ends_up_in_one_line_that_names_the_setting(tmp_path: Path, setting: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = invoke(up_environment(tmp_path, **{setting: str(port)}), "up")
    assert done.exit_code == 1
    [error] = done.stderr.strip().splitlines()
    assert error.startswith(f"Error: port {port} is already in use by pid {os.getpid()} ")
    assert error.endswith(f"set BROADCASTER_{setting.upper()} to a free port")
    assert not (tmp_path / "state").exists()  # refused before anything started
