"""Importing affected people: `broadcaster incident affected ID --csv FILE` on a generated CSV.

    python bench/affected_import.py [--people 1000000] [--database postgresql] [--batch-size N] [--json]

Target (issue 17): 1,000,000 people within 30 s on PostgreSQL, memory bounded.

A fresh PostgreSQL schema (BROADCASTER_TEST_POSTGRES_URL or the local server) or SQLite
file, one declared incident, and a CSV of ``--people`` rows (email, name, time zone,
locale; every 10,000th row broken, so refusals are on the path) written first. The
command runs in a child process exactly as an engineer types it, with no broker (its
announcements stay in the outbox for the relay, which is not what is measured); the
clock covers the whole command. Peak memory is the child's VmHWM; ``command_cpu_seconds`` is the
CPU the command and its checking processes used (not PostgreSQL's), steadier than the clock on a
shared machine.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from broadcaster.config import Settings
from broadcaster.domain.events import IncidentDeclared
from broadcaster.services.importing import BATCH_SIZE
from broadcaster.services.incidents import apply_incident_event
from broadcaster.services.linking import LinkingModel
from broadcaster.storage.database import make_engine, make_session_factory
from broadcaster.storage.models import Delivery, OutboxMessage, Subscriber
from tests.support.databases import fresh_database

INCIDENT = "INC-AFFECTED-1"
BROKEN_EVERY = 10_000


def write_csv(path: Path, people: int) -> int:
    """The file; returns how many rows are broken on purpose."""
    broken = 0
    with path.open("w", encoding="utf-8") as out:
        out.write("email,name,time_zone,locale\n")
        for n in range(people):
            if n % BROKEN_EVERY == BROKEN_EVERY - 1:
                out.write(f"person{n}-at-example.com,Person {n},,\n")
                broken += 1
            else:
                out.write(f"person{n}@example.com,Person {n},Europe/Paris,fr-FR\n")
    return broken


def declare(database_url: str) -> None:
    now = datetime.now(UTC)
    event = IncidentDeclared("bench-declared", INCIDENT, now, "Uploads fail", "groups", "sev2",
                             now + timedelta(hours=2), ("upload",))
    engine = make_engine(database_url)
    with make_session_factory(engine).begin() as session:
        apply_incident_event(session, event, now=now, model=LinkingModel(Settings(database_url=database_url)))
    engine.dispose()


def run_import(database_url: str, csv_path: Path, folder: Path,
               batch_size: int | None) -> tuple[float, float, int, float]:
    """Seconds, peak memory (MB), exit status and CPU seconds (the command and its checking processes)."""
    env = {**os.environ, "BROADCASTER_DATABASE_URL": database_url, "BROADCASTER_STATE_DIR": str(folder / "state")}
    command = [sys.executable, "-m", "broadcaster", "incident", "affected", INCIDENT, "--csv", str(csv_path),
               *(["--batch-size", str(batch_size)] if batch_size else [])]
    cpu_before = _children_cpu()
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    peak = 0
    while child.poll() is None:
        peak = max(peak, _vm_hwm_kb(child.pid))
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    sys.stderr.write(child.stdout.read().decode() if child.stdout else "")
    return seconds, round(peak / 1024, 1), child.returncode, round(_children_cpu() - cpu_before, 2)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def counts(database_url: str) -> dict[str, int]:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        found = {
            "subscribers": connection.scalar(select(func.count()).select_from(Subscriber)) or 0,
            "first_emails_queued": connection.scalar(select(func.count()).select_from(Delivery)) or 0,
            "outbox_announcements": connection.scalar(select(func.count()).select_from(OutboxMessage)) or 0,
        }
    engine.dispose()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--batch-size", type=int, help="the command's own default unless given")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        csv_path = folder / "affected.csv"
        broken = write_csv(csv_path, args.people)
        megabytes = round(csv_path.stat().st_size / 1e6, 1)
        with fresh_database(args.database, folder) as database_url:
            declare(database_url)
            load_before = round(os.getloadavg()[0], 2)
            seconds, peak_mb, status, cpu = run_import(database_url, csv_path, folder, args.batch_size)
            found = counts(database_url)
    figures = {
        "people": args.people, "database": args.database, "batch_size": args.batch_size or BATCH_SIZE.get(args.database, 1000),
        "csv_megabytes": megabytes,
        "seconds": round(seconds, 2), "people_per_second": round(args.people / seconds),
        "peak_memory_mb": peak_mb, "command_cpu_seconds": cpu, "exit_status": status, "rows_broken_on_purpose": broken, **found,
        "load_average_before": load_before, "load_average_after": round(os.getloadavg()[0], 2), "target_seconds": 30,
    }
    print(json.dumps(figures) if args.json else json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
