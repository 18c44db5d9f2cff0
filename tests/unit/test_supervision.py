"""The rules ``broadcaster up`` supervises by, and what it writes down, without starting anything."""

import json
import os
import socket
import stat
from pathlib import Path

import pytest

from broadcaster.config import Settings
from broadcaster.embedded.ports import PortInUse, ensure_free
from broadcaster.embedded.runtime import Runtime, running_system, runtime_file, write_runtime
from broadcaster.embedded.supervisor import Backoff, FailureWindow
from broadcaster.embedded.system import exit_reason, exit_status
from broadcaster.storage.database import shown_url


def test_a_dying_worker_waits_one_second_doubling_to_thirty_and_back_to_one_after_a_long_life() -> None:
    backoff = Backoff()
    assert [backoff.delay(lived=0.5) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.delay(lived=45) == 1
    assert backoff.delay(lived=2) == 2


def test_three_broker_failures_within_a_minute_are_too_many_but_three_in_two_minutes_are_not() -> None:
    spread = FailureWindow(limit=3, window=60)
    assert [spread.record(now) for now in (0, 50, 100)] == [False, False, False]
    close = FailureWindow(limit=3, window=60)
    assert [close.record(now) for now in (0, 20, 59)] == [False, False, True]


def test_a_worker_that_could_not_bind_its_web_port_says_which_setting_to_change(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    log.write_bytes(b"old run\n" + b"OSError: [Errno 98] error while attempting to bind on address "
                    b"('127.0.0.1', 6066): address already in use\n")
    reason = exit_reason(1, log, since=0)
    assert reason.startswith("exited with status 1: port 6066 is already in use")
    assert reason.endswith("set BROADCASTER_WORKER_WEB_PORT to a free port")
    assert exit_reason(1, log, since=log.stat().st_size) == "exited with status 1"  # only this run's lines count
    assert exit_status(-9) == "was killed by SIGKILL"


def test_a_port_held_by_this_process_is_refused_with_the_holder_and_the_setting() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortInUse) as refused:
            ensure_free("127.0.0.1", port, "BROADCASTER_WORKER_WEB_PORT")
    assert str(refused.value).startswith(f"port {port} is already in use by pid {os.getpid()} (")
    ensure_free("127.0.0.1", port, "BROADCASTER_WORKER_WEB_PORT")  # free again


def test_runtime_json_is_for_its_owner_only_and_holds_no_password(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    runtime_file(settings).write_text("{}")
    runtime_file(settings).chmod(0o644)  # left by an older version
    url = "postgresql+psycopg://broadcaster:s3cret-pw@db:5432/broadcaster"
    write_runtime(settings, Runtime("127.0.0.1:9092", os.getpid(), "http://127.0.0.1:6066", shown_url(url), "outbox"))
    assert stat.S_IMODE(runtime_file(settings).stat().st_mode) == 0o600
    assert "s3cret-pw" not in runtime_file(settings).read_text()
    assert json.loads(runtime_file(settings).read_text())["database"] == "postgresql+psycopg://broadcaster:***@db:5432/broadcaster"
    assert running_system(settings) is not None


def test_a_runtime_file_from_another_version_or_half_written_means_nothing_runs(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    for text in ('{"kafka_bootstrap": "x", "supervisor_pid": 1, "database_url": "sqlite://", "outbox": "o"}', '{"kafka'):
        runtime_file(settings).write_text(text)
        assert running_system(settings) is None
