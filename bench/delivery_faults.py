"""Exactly once through faults: 10,000 subscribers, 30% of API calls failing with 429 or 503,
and the worker killed with SIGKILL three times during the fan-out.

    python bench/delivery_faults.py [--subscribers 10000] [--kills 3] [--json]

Counts, from the local SendGrid-API server's own log of accepted requests, how many
subscribers were accepted exactly once, never (lost) and more than once (duplicates),
and the ledger's final states. Each kill lands in the one window where a duplicate is
possible: the server has accepted a request and kills the worker before it answers 202,
so the worker dies with rows in ``sending`` that the API already took. The server posts signed
"processed" and "delivered" events to the worker's Event Webhook endpoint, as SendGrid does, and those
rows are recorded as sent instead of sent again. ``--no-events`` turns that off, to
measure the window it closes (at most one `deliveries` message, 1,000 ids, per kill).

Retry waits are compressed (1 s doubling to 8 s, not 5 s to 10 minutes) so that a run
takes minutes; exactly-once does not depend on how long the waits are.
"""

import argparse
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fanout import resolve, seed
from harness import KEY, Bench, sendgrid_system

from broadcaster.embedded.broker import free_port
from broadcaster.storage.database import make_engine
from broadcaster.storage.models import Delivery
from tests.support.sendgrid_server import SandboxState
from tests.support.worker import running_worker

DEADLINE_SECONDS = 1200


def ledger_states(database_url: str) -> dict[str, int]:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        counts = dict(connection.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all())
    engine.dispose()
    return counts


def confirmed_by_webhook(worker_log: Path) -> int:
    """Sends the workers learnt of from the Event Webhook rather than from the API's answer."""
    return sum(int(n) for n in re.findall(r"confirmed (\d+) sends", worker_log.read_text(errors="replace")))


def kill_and_restart(bench: Bench, subscribers: int, kills: int, started: float, events: bool) -> None:
    """Run a worker until a share of the subscribers was accepted, kill it inside the API call, start another."""
    state = bench.sandbox.state
    for kill in range(kills + 1):
        port = free_port()
        worker_settings = bench.settings.model_copy(update={"worker_web_port": port})
        state.webhook_url = f"http://127.0.0.1:{port}/webhooks/sendgrid" if events else None
        with running_worker(worker_settings, bench.bootstrap) as worker:
            if kill < kills:
                goal = subscribers * (kill + 1) // (kills + 2)
                state.after_accept = lambda w=worker, g=goal: w.kill() if len(set(state.recipients())) >= g else None
                until(lambda w=worker: w.poll() is not None, started)
                state.after_accept = None
            else:
                until(lambda: len(set(state.recipients())) >= subscribers, started)
                time.sleep(10)  # let any late duplicate arrive before counting


def until(condition: Callable[[], bool], started: float) -> None:
    while not condition() and time.perf_counter() - started < DEADLINE_SECONDS:
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--no-events", action="store_true", help="no Event Webhook: shows the window it closes")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    state = SandboxState(KEY, fail_share=0.3, fail_statuses=(429, 503))
    with sendgrid_system("faults", state, delivery_lease="5s", sweep_interval=1.0, delivery_max_attempts=50,
                         delivery_backoff="1s", delivery_backoff_cap="8s",
                         sendgrid_webhook_public_key=state.webhook_public_key) as bench:
        started = time.perf_counter()
        seed(bench.settings.database_url, bench.settings, args.subscribers)
        resolve(bench.settings, bench.bootstrap)
        kill_and_restart(bench, args.subscribers, args.kills, started, not args.no_events)
        elapsed = time.perf_counter() - started
        accepted = Counter(state.recipients())
        ledger = ledger_states(bench.settings.database_url)
        confirmed = confirmed_by_webhook(Path(bench.settings.state_dir) / "worker.log")
    expected = {f"user{n}@example.com" for n in range(args.subscribers)}
    figures = {
        "subscribers": args.subscribers, "kills": args.kills, "failure_share": 0.3, "event_webhook": not args.no_events,
        "requests": state.requests, "exactly_once": sum(1 for e in expected if accepted[e] == 1),
        "lost": sum(1 for e in expected if accepted[e] == 0),
        "duplicates": sum(n - 1 for e, n in accepted.items() if n > 1), "seconds": round(elapsed, 1),
        "ledger": ledger, "sends_confirmed_by_webhook": confirmed,
    }
    print(json.dumps(figures) if args.json else "\n".join(f"{k:>14}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
