"""Exactly once through faults: 10,000 subscribers, 30% of API calls failing with 429 or 503,
and the worker killed with SIGKILL three times during the fan-out.

    python bench/delivery_faults.py [--subscribers 10000] [--kills 3] [--json]

Counts, from the local SendGrid-API server's own log of accepted requests, how many
subscribers were accepted exactly once, never (lost) and more than once (duplicates),
and the ledger's final states. Each kill comes just after the API accepted a request,
the moment a duplicate is likeliest: the only window for one is a crash between the
API's 202 and the ledger's commit, at most one request (1,000 recipients) per worker.

Retry waits are compressed (1 s doubling to 8 s, not 5 s to 10 minutes) so that a run
takes minutes; exactly-once does not depend on how long the waits are.
"""

import argparse
import json
import signal
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from broadcaster.embedded.broker import free_port  # noqa: E402
from broadcaster.mail.sandbox import SandboxState  # noqa: E402
from broadcaster.storage.database import make_engine  # noqa: E402
from broadcaster.storage.models import Delivery  # noqa: E402
from fanout import resolve, seed  # noqa: E402
from harness import KEY, Bench, sendgrid_system  # noqa: E402
from tests.support.worker import running_worker  # noqa: E402

DEADLINE_SECONDS = 1200


def ledger_states(database_url: str) -> dict[str, int]:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        counts = dict(connection.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all())
    engine.dispose()
    return counts


def kill_and_restart(bench: Bench, subscribers: int, kills: int, started: float) -> None:
    """Run a worker until a share of the subscribers was accepted, SIGKILL it, start another; ``kills`` times."""
    state = bench.sandbox.state
    for kill in range(kills + 1):
        worker_settings = bench.settings.model_copy(update={"worker_web_port": free_port()})
        with running_worker(worker_settings, bench.bootstrap) as worker:
            goal = subscribers * (kill + 1) // (kills + 2) if kill < kills else subscribers
            while len(set(state.recipients())) < goal and time.perf_counter() - started < DEADLINE_SECONDS:
                time.sleep(0.05)
            if kill < kills:
                worker.send_signal(signal.SIGKILL)
            else:
                time.sleep(10)  # let any late duplicate arrive before counting


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    state = SandboxState(KEY, fail_share=0.3, fail_statuses=(429, 503))
    with sendgrid_system("faults", state, delivery_lease="5s", sweep_interval=1.0, delivery_max_attempts=50,
                         delivery_backoff="1s", delivery_backoff_cap="8s") as bench:
        started = time.perf_counter()
        seed(bench.settings, args.subscribers)
        resolve(bench.settings, bench.bootstrap)
        kill_and_restart(bench, args.subscribers, args.kills, started)
        elapsed = time.perf_counter() - started
        accepted = Counter(state.recipients())
        ledger = ledger_states(bench.settings.database_url)
    expected = {f"user{n}@example.com" for n in range(args.subscribers)}
    figures = {
        "subscribers": args.subscribers, "kills": args.kills, "failure_share": 0.3,
        "requests": state.requests, "exactly_once": sum(1 for e in expected if accepted[e] == 1),
        "lost": sum(1 for e in expected if accepted[e] == 0),
        "duplicates": sum(n - 1 for e, n in accepted.items() if n > 1), "seconds": round(elapsed, 1),
        "ledger": ledger,
    }
    print(json.dumps(figures) if args.json else "\n".join(f"{k:>14}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
