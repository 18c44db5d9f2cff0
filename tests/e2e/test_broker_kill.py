"""Nothing accepted is lost when the memory-only broker is killed mid-burst (issue 14), with real processes.

Before the outbox, 32 of 50 `report submit` calls died with a traceback during a broker
kill and one report that was "submitted" was never stored.
"""

import re
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import ColumnElement, func, select

from broadcaster.config import Settings
from broadcaster.embedded.broker import EmbeddedBroker, start_broker
from broadcaster.kafka.topics import ensure_topics
from broadcaster.storage.database import make_engine
from broadcaster.storage.models import Base, OutboxMessage, Report, StoredDeadLetter
from tests.e2e.conftest import System
from tests.support.waiting import wait_for
from tests.support.worker import running_worker, settings_environment

BROADCASTER = str(Path(sys.executable).parent / "broadcaster")
EARLY, BURST = 6, 44
TEXT = "CSV upload to pre-approved members fails with unexpected error"


@dataclass
class Calls:
    """Every CLI call of the burst: what it said, counted as they finish."""

    settings: Settings
    bootstrap: str
    results: list[subprocess.CompletedProcess[str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = settings_environment(self.settings) | {"BROADCASTER_KAFKA_BOOTSTRAP": self.bootstrap}
        result = subprocess.run([BROADCASTER, *args], env=env, capture_output=True, text=True, timeout=60)
        with self.lock:
            self.results.append(result)
        return result

    def submit(self, n: int) -> subprocess.CompletedProcess[str]:
        return self.run("report", "submit", "-e", f"user{n}@example.com", "-n", f"User {n}", "-t", TEXT, "-c", "groups")

    def finished(self) -> int:
        with self.lock:
            return len(self.results)

    def not_published(self) -> int:
        with self.lock:
            return sum("not published yet" in r.stderr for r in self.results)


def count(settings: Settings, model: type[Base], *where: ColumnElement[bool]) -> int:
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(model).where(*where)) or 0
    finally:
        engine.dispose()


def test_a_broker_killed_mid_burst_loses_no_accepted_report_or_update_and_duplicates_no_email(
    tmp_path: Path, settings_factory, sqlite_url: str
) -> None:
    broker = start_broker(tmp_path / "broker.log")
    # Announcements the worker made to the dead broker are found by the ledger's sweep after the lease: short here.
    settings = settings_factory(sqlite_url, delivery_lease="10s", sweep_interval=1.0)
    ensure_topics(settings, broker.bootstrap)
    calls, system = Calls(settings, broker.bootstrap), System(settings, broker.bootstrap, None)
    everyone = [f"user{n}@example.com" for n in range(EARLY + BURST)]
    with ExitStack() as stack:
        stack.callback(lambda: broker.stop())
        workers = ExitStack()
        stack.callback(workers.close)
        workers.enter_context(running_worker(settings, broker.bootstrap))
        declared = calls.run("incident", "declare", "CSV upload fails", "-c", "groups", "-m", "csv upload", "--wait", "30")
        incident_id = re.search(r"Declared (\S+):", declared.stdout).group(1)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(calls.submit, range(EARLY)))
        assert all(r.returncode == 0 for r in calls.results), [r.stderr for r in calls.results]
        wait_for(lambda: all(system.counts().get(p, {}).get("acknowledgement") for p in everyone[:EARLY]),
                 what="the early reporters acknowledged")

        broker = burst_with_a_broker_kill(calls, broker, incident_id)
        report_ids = {m for r in calls.results if r.returncode == 0 for m in re.findall(r"Report (r-\w+)", r.stdout)}
        restarted = not caught_up(system, report_ids, everyone, timeout=45)
        if restarted:  # what `broadcaster up` does with a worker that lost its broker
            workers.close()
            workers.enter_context(running_worker(settings, broker.bootstrap))
            assert caught_up(system, report_ids, everyone, timeout=120), progress(system, report_ids, everyone)
        calls.run("incident", "resolve", incident_id, "Uploads work again", "--wait", "30")
        wait_for(lambda: all(system.counts()[p]["resolution"] == 1 for p in everyone), what="every resolution")

    counts = system.counts()
    duplicates = sum(max(0, c["acknowledgement"] - 1) + max(0, c["resolution"] - 1) + max(0, c["progress"] - 2)
                     for c in counts.values())
    print(f"\n{len(calls.results)} CLI calls, {sum(r.returncode == 0 for r in calls.results)} accepted "
          f"({calls.not_published()} while the broker was down); {len(report_ids)} reports accepted, "
          f"{count(settings, Report)} stored; {sum(c['acknowledgement'] for c in counts.values())} acknowledged; "
          f"{duplicates} duplicate emails; worker restarted: {restarted}")
    assert all(r.returncode == 0 and "Traceback" not in r.stderr for r in calls.results), calls.results
    assert len(report_ids) == EARLY + BURST == count(settings, Report)
    assert count(settings, Report, Report.id.in_(report_ids)) == len(report_ids)
    for person in everyone:
        kinds = counts[person]
        assert kinds["acknowledgement"] == 1 and kinds["resolution"] == 1, (person, kinds)
        assert kinds["progress"] <= 2, (person, kinds)
    assert all(counts[p]["progress"] == 2 for p in everyone[:EARLY])
    assert count(settings, OutboxMessage, OutboxMessage.published_at.is_(None)) == 0
    assert count(settings, StoredDeadLetter) == 0  # no update overtook its declaration


def burst_with_a_broker_kill(calls: Calls, broker: EmbeddedBroker, incident_id: str) -> EmbeddedBroker:
    """Reports and two updates from parallel CLI calls; SIGKILL to the broker halfway; the new broker."""
    with ThreadPoolExecutor(4) as pool:
        pool.submit(calls.run, "incident", "update", incident_id, "A fix is being tested", "--wait", "0")
        pool.map(calls.submit, range(EARLY, EARLY + BURST))
        wait_for(lambda: calls.finished() >= 1 + EARLY + BURST // 2, what="half the burst")
        broker.process.kill()
        broker.process.wait()
        calls.run("incident", "update", incident_id, "The fix is rolling out", "--wait", "0")
        wait_for(lambda: calls.not_published() >= 2, what="calls accepted while the broker was down")
        restarted = start_broker(broker.log_path, port=broker.port)
        ensure_topics(calls.settings, restarted.bootstrap)
    return restarted


def caught_up(system: System, report_ids: set[str], everyone: list[str], timeout: float) -> bool:
    """Every accepted report stored and its reporter acknowledged, and both updates applied."""

    def done() -> bool:
        counts = system.counts()
        return (count(system.settings, Report) == len(report_ids)
                and all(counts.get(p, {}).get("acknowledgement") for p in everyone)
                and all(counts[p]["progress"] == 2 for p in everyone[:EARLY]))

    try:
        wait_for(done, timeout=timeout, what="the system caught up after the broker restart")
    except AssertionError:
        return False
    return True


def progress(system: System, report_ids: set[str], everyone: list[str]) -> str:
    """What is missing, when the system did not catch up: for the failure message."""
    counts = system.counts()
    unacknowledged = [p for p in everyone if not counts.get(p, {}).get("acknowledgement")]
    short_of_progress = [p for p in everyone[:EARLY] if counts.get(p, {}).get("progress", 0) != 2]
    return (f"{count(system.settings, Report)} of {len(report_ids)} reports stored; "
            f"{len(unacknowledged)} not acknowledged ({unacknowledged[:5]}); "
            f"{len(short_of_progress)} early reporters without both updates; "
            f"{count(system.settings, OutboxMessage, OutboxMessage.published_at.is_(None))} outbox rows unpublished")
