"""How fast the `broadcaster` command answers, as a user runs it (targets in TARGETS, seconds).

    python bench/cli.py [--runs 5] [--json]

Starts the embedded broker, a migrated SQLite file, Broadcaster's topics and one real
worker process, then runs `.venv/bin/broadcaster` as a subprocess (a fresh interpreter
each time, as a user's shell does) against it: `--help`, `incident list`, `incident show`,
`incident declare` (which waits until the worker has applied the declaration and prints
how many reports it linked), `status` and `lag`. Each is run `--runs` times after one
unmeasured warm-up round; the figures are medians and maxima of the wall-clock time of
the whole process, and the median CPU time it used (which other work on the machine
inflates less than the wall-clock time).
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from broadcaster.config import Settings
from broadcaster.embedded.broker import CLIENT_SETTINGS, free_port, start_broker
from broadcaster.kafka.topics import ensure_topics
from broadcaster.storage.database import upgrade
from tests.support.worker import running_worker, settings_environment

ROOT = Path(__file__).resolve().parents[1]
BROADCASTER = ROOT / ".venv" / "bin" / "broadcaster"
TARGETS = {"--help": 0.3, "incident list": 0.5, "incident show": 0.5, "incident declare": 1.5,
           "status": 2.0, "lag": 2.0}


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(env: dict[str, str], *args: str, expect: str = "", exits: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """Seconds one `broadcaster ARGS` process took, start to exit, and the CPU seconds it used.

    Fails loudly if the command did not do its job.
    """
    cpu, started = cpu_of_children(), time.perf_counter()
    done = subprocess.run([str(BROADCASTER), *args], env=env, capture_output=True, text=True, check=False)
    elapsed, cpu = time.perf_counter() - started, cpu_of_children() - cpu
    if done.returncode not in exits or expect not in done.stdout:
        raise SystemExit(f"`broadcaster {' '.join(args)}` exited {done.returncode}, "
                         f"expected {expect!r} in its output:\n{done.stdout}{done.stderr}")
    return elapsed, cpu


def declare(env: dict[str, str], n: int) -> list[str]:
    return ["incident", "declare", f"Bench incident {n}", "--component", "bench", "--match", f"bench phrase {n}"]


def measure(env: dict[str, str], runs: int) -> dict[str, list[tuple[float, float]]]:
    timings: dict[str, list[tuple[float, float]]] = {name: [] for name in TARGETS}
    declared = subprocess.run([str(BROADCASTER), *declare(env, 0)], env=env, capture_output=True, text=True,
                              check=True).stdout
    incident_id = declared.split()[1].rstrip(":")  # "Declared INC-...: title"
    for n in range(runs + 1):  # round 0 warms the page cache and the worker; it is not counted
        figures = {
            "--help": run(env, "--help", expect="Usage: broadcaster"),
            "incident list": run(env, "incident", "list", expect=incident_id),
            "incident show": run(env, "incident", "show", incident_id, expect="Timeline:"),
            # declare waits for the worker to apply the event: "Linked N earlier report(s)" is printed after it
            "incident declare": run(env, *declare(env, n + 1), expect="Linked "),
            # right after a declaration the worker may not have committed yet: lag can say STALL (exit 1, 2)
            "status": run(env, "status", expect="promised updates", exits=(0, 1)),
            "lag": run(env, "lag", expect="group ", exits=(0, 2)),
        }
        if n:
            for name, measured in figures.items():
                timings[name].append(measured)
    return timings


def summary(name: str, values: list[tuple[float, float]]) -> dict[str, object]:
    seconds = [wall for wall, _ in values]
    median = statistics.median(seconds)
    return {"median_seconds": round(median, 3), "max_seconds": round(max(seconds), 3),
            # CPU time the command itself used: what is left of a figure when other work slows the machine
            "median_cpu_seconds": round(statistics.median(cpu for _, cpu in values), 3),
            "target_seconds": TARGETS[name], "met": median < TARGETS[name]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        broker = start_broker(Path(folder) / "broker.log")
        try:
            run_id = uuid.uuid4().hex[:8]
            settings = Settings(database_url=f"sqlite:///{folder}/cli.db", topic_prefix=f"cli-{run_id}.",
                                app_id=f"cli-{run_id}", outbox_dir=Path(folder) / "outbox",
                                state_dir=Path(folder) / "state", worker_web_port=free_port(), **CLIENT_SETTINGS)
            upgrade(settings.database_url)
            ensure_topics(settings, broker.bootstrap)
            env = {**os.environ, **settings_environment(settings), "BROADCASTER_KAFKA_BOOTSTRAP": broker.bootstrap,
                   "PYTHONPATH": str(ROOT)}  # this checkout's code, also when run from a copy of the repository
            env.pop("PYTHONDONTWRITEBYTECODE", None)  # as a user's shell runs it: compiled once, by the warm-up round
            with running_worker(settings, broker.bootstrap):
                timings = measure(env, args.runs)
        finally:
            broker.stop()
    figures = {
        "runs": args.runs,
        "load_average_1min": round(os.getloadavg()[0], 2),  # other work on the machine slows every figure
        "commands": {name: summary(name, values) for name, values in timings.items()},
    }
    if args.json:
        print(json.dumps(figures))
        return
    for name, row in figures["commands"].items():
        print(f"{name:>17}: median {row['median_seconds']:6.3f} s (CPU {row['median_cpu_seconds']:.3f} s), "
              f"max {row['max_seconds']:6.3f} s, target {row['target_seconds']} s{'' if row['met'] else '  (missed)'}")


if __name__ == "__main__":
    main()
