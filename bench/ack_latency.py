"""Acknowledgement latency: bug reports at 500 a second for 60 s into the running system (target p99 < 1 s).

    python bench/ack_latency.py [--rate 500] [--seconds 60] [--api-check-every 1] [--undeclared] [--profile F] [--json]
    python bench/ack_latency.py --find-capacity [--start-rate 250] [--seconds 20] [--bisect-steps 3] [--undeclared] [--json]

Embedded defaults: the embedded broker, a SQLite file, one real worker process, and the
local SendGrid-API server (in this process) as the mail API. Every report matches the
open incident, so every reporter is owed an acknowledgement (``decided`` says how the
matcher decided the measured reports: all linked, after a warm-up that taught it each text;
when it drifts and suggests some, ``p99_seconds_by_decision`` says whose wait the tail is). Latency runs from the
moment a report is handed to the producer to the moment the API accepted the request
carrying that reporter's acknowledgement (both clocks are this process's).

Reports are produced as the intake API publishes them, gathered for 20 ms (its
``GATHER_SECONDS``): 1,000 reports a second are some 50 requests, not one each. Sent 2 ms
apart, their 500 requests a second cost the embedded broker 0.72 of a core by themselves
(20 ms: 0.14), on the two cores the worker being measured has.

In the same run, a bare aiokafka consumer reads the whole bug-report topic on the same
broker: the rate at which anything at all can read it, the ceiling for the pipeline.

``--undeclared`` declares no incident: every report is left to a person and its reporter gets a
triage receipt instead (an outage nobody has declared yet), and latency runs to the receipt.

``--find-capacity`` searches for the highest rate one worker sustains with p99 under 1 s:
it doubles the rate from ``--start-rate`` until a step fails (p99 >= 1 s, or a report not
acknowledged within the step's wait), then bisects between the last rate that held and the
first that did not. Each step is a fresh system (broker, database, worker), so one step's
backlog cannot spill into the next, and lasts ``--seconds`` (20 by default in this mode).
The capacity is given as a share of the bare consumer's rate (the median of the steps').

The API stand-in checks every request as strictly as SendGrid (its schema and rules), in
this process, on the same two cores as the worker: at 1,000 reports a second that is a
sixth of a core. ``--api-check-every N`` checks one request in N, so that the figure is
the worker's and not SendGrid's work (``api_checking_seconds`` says what it cost).

``--profile F`` records the worker with py-spy (``pip install py-spy``) as collapsed stacks
(one step, or each step of a search as F.<rate>).
"""

import argparse
import asyncio
import json
import math
import re
import signal
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from kafka import KafkaProducer
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import KEY, sendgrid_system
from harness import profile as harness_profile
from scale_out import declare

from broadcaster.domain.events import BugReportReceived
from broadcaster.intake.publishing import GATHER_SECONDS
from broadcaster.storage.database import make_engine
from broadcaster.storage.models import Report
from broadcaster.wire.codec import encode_bug_report
from tests.support.sendgrid_server import SandboxState
from tests.support.worker import running_worker

# Warm-up: reports one at a time, each decided alone, so the matcher links and learns every
# text before the measured reports. Sent in a burst, reports of a text it had not linked yet
# were only suggested, never learned, and so every later report of that text too: a
# different workload (a triage receipt each, not a shared acknowledgement) by the luck of timing.
TEXTS = ("search returns nothing since this morning", "the search box finds nothing, not even my own name",
         "searching for anything gives an empty page", "search results are empty for every query")
WARM_UP = 20
SETTLE_SECONDS = 120
TARGET_P99_SECONDS = 1.0
SEARCH_SETTLE_SECONDS = 15  # in a search, a report not acknowledged this long after the last was sent fails the step
MAX_RATE = 16_000


def report(n: int, prefix: str) -> BugReportReceived:
    return BugReportReceived(f"{prefix}-{n}", datetime.now(UTC), f"{prefix}{n}@example.com", f"User {n}",
                             TEXTS[n % len(TEXTS)], "search", "bench")


def produce(producer: KafkaProducer, topic: str, count: int, rate: float, prefix: str) -> dict[str, float]:
    """Send ``count`` reports at ``rate`` a second, on schedule; returns when each address's report was sent."""
    sent_at, started = {}, time.perf_counter()
    for n in range(count):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        event = report(n, prefix)
        sent_at[event.email] = time.time()
        producer.send(topic, key=event.email.encode(), value=encode_bug_report(event))
    producer.flush()
    return sent_at


def warm_up(producer: KafkaProducer, topic: str, state: SandboxState) -> None:
    """Reports one at a time, each acknowledged before the next: see TEXTS."""
    for n in range(WARM_UP):
        event = report(n, "warm")
        producer.send(topic, key=event.email.encode(), value=encode_bug_report(event))
        producer.flush()
        wait_for(state, {event.email}, time.monotonic() + SETTLE_SECONDS)


def wait_for(state: SandboxState, addresses: set[str], deadline: float) -> dict[str, float]:
    while time.monotonic() < deadline:
        accepted = state.first_acceptances()
        if addresses <= accepted.keys():
            return accepted
        time.sleep(0.2)
    return state.first_acceptances()


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile of sorted ``values``; a missing acknowledgement (inf) counts as infinitely late."""
    if not values:
        return math.inf
    position = share * (len(values) - 1)  # as statistics.quantiles(method="inclusive"), which makes nan of inf
    low, high = math.floor(position), math.ceil(position)
    if math.isinf(values[high]):
        return math.inf
    return values[low] + (values[high] - values[low]) * (position - low)


async def bare_consumer_rate(bootstrap: str, topic: str, count: int) -> float:
    """Messages a second for a plain aiokafka consumer reading ``count`` messages from the start."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    try:
        received, started = 0, time.perf_counter()
        while received < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            received += sum(len(records) for records in batches.values())
        return received / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime, stime in clock ticks (USER_HZ = 100)


def link_states(database_url: str, prefix: str) -> dict[str, str]:
    """How the matcher decided each measured report, by its reporter's address: all linked, if the warm-up
    taught it every text."""
    engine = make_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(select(Report.email, Report.link_state).where(Report.id.startswith(prefix))).all()
    engine.dispose()
    return {email: state for email, state in rows}


def link_batches(log: Path, since: int) -> list[int]:
    """How many reports each batch of the link-reports processor decided, from the worker's log after ``since`` bytes.

    A batch's fixed cost (statements, commit, the matcher's refresh) is shared by its reports:
    the sizes say how much of the CPU per report is that share.
    """
    with log.open("rb") as file:
        file.seek(since)
        text = file.read().decode(errors="replace")
    return [int(n) for n in re.findall(r"\] (\d+) report\(s\): ", text)]


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


@dataclass(frozen=True)
class Step:
    """One fresh system at one rate: the reports sent, when each was acknowledged, and the bare consumer's rate."""

    rate: float
    sent_at: dict[str, float]
    accepted: dict[str, float]
    produce_seconds: float
    bare_rate: float
    worker_cpu_seconds: float
    api_checking_seconds: float
    load: float
    decisions: dict[str, str]  # address: how the matcher decided that report
    batches: list[int]

    @property
    def latencies(self) -> list[float]:
        """Every report's latency, a missing acknowledgement as inf, sorted."""
        return sorted(self.accepted[a] - sent if a in self.accepted else math.inf for a, sent in self.sent_at.items())

    def p99_by_decision(self) -> dict[str, float]:
        """The p99 of each decision's reports: whether a tail is the reports decided one way, or everyone's."""
        by: dict[str, list[float]] = {}
        for address, sent in self.sent_at.items():
            by.setdefault(self.decisions.get(address, "unknown"), []).append(
                self.accepted[address] - sent if address in self.accepted else math.inf)
        return {decision: percentile(sorted(waits), 0.99) for decision, waits in by.items()}

    @property
    def acknowledged(self) -> int:
        return sum(a in self.accepted for a in self.sent_at)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 0.99)

    @property
    def holds(self) -> bool:
        """p99 under the target and every report acknowledged."""
        return self.acknowledged == len(self.sent_at) and self.p99 < TARGET_P99_SECONDS

    def figures(self) -> dict[str, object]:
        latencies, count = self.latencies, len(self.sent_at)

        def seconds(value: float) -> float | None:  # JSON has no infinity: null means "not acknowledged"
            return round(value, 3) if math.isfinite(value) else None

        return {
            "reports": count, "target_rate": self.rate, "achieved_rate": round(count / max(self.produce_seconds, 1e-9)),
            "acknowledged": self.acknowledged, "missing": count - self.acknowledged,
            "p50_seconds": seconds(percentile(latencies, 0.50)), "p99_seconds": seconds(self.p99),
            "max_seconds": seconds(latencies[-1]), "target_p99_seconds": TARGET_P99_SECONDS, "holds": self.holds,
            "decided": dict(Counter(self.decisions.values())),
            "p99_seconds_by_decision": {decision: seconds(p99) for decision, p99 in self.p99_by_decision().items()},
            "worker_cpu_seconds": round(self.worker_cpu_seconds, 1),
            "worker_cpu_ms_per_report": round(1000 * self.worker_cpu_seconds / count, 3),
            "link_batches": len(self.batches),
            "mean_link_batch": round(statistics.mean(self.batches), 1) if self.batches else None,
            "api_checking_seconds": round(self.api_checking_seconds, 1),
            "bare_consumer_messages_per_second": round(self.bare_rate), "load_average": self.load,
        }


def run_step(rate: float, seconds: float, settle: float, profile: str | None = None, check_every: int = 1,
             undeclared: bool = False) -> Step:
    """Reports at ``rate`` for ``seconds`` into a fresh system; waits up to ``settle`` s after the last for acknowledgements."""
    count = max(2, int(rate * seconds))
    with sendgrid_system("ack", SandboxState(KEY, check_every=check_every)) as bench:
        if not undeclared:
            declare(bench.settings)
        topic, state = f"{bench.settings.topic_prefix}bug-reports", bench.sandbox.state
        producer = KafkaProducer(bootstrap_servers=bench.bootstrap, acks="all", enable_idempotence=False,
                                 linger_ms=round(GATHER_SECONDS * 1000))
        with running_worker(bench.settings, bench.bootstrap) as worker:
            warm_up(producer, topic, state)
            profiler = harness_profile(worker.pid, profile) if profile else None
            log = Path(bench.settings.state_dir) / "worker.log"  # where tests.support.worker has it write
            log_from = log.stat().st_size
            cpu_before, checking_before = cpu_seconds(worker.pid), state.checking_seconds
            sent_at = produce(producer, topic, count, rate, "user")
            produce_seconds = max(sent_at.values()) - min(sent_at.values())
            accepted = wait_for(state, set(sent_at), time.monotonic() + settle)
            cpu = cpu_seconds(worker.pid) - cpu_before
            checking = state.checking_seconds - checking_before
            load = load_average()
            decisions = link_states(bench.settings.database_url, "user-")
            batches = link_batches(log, log_from)
            if profiler:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(timeout=60)
        producer.close()
        ceiling = asyncio.run(bare_consumer_rate(bench.bootstrap, topic, count + WARM_UP))
    return Step(rate, sent_at, accepted, produce_seconds, ceiling, cpu, checking, load, decisions, batches)


def find_capacity(start: float, seconds: float, bisect_steps: int, profile: str | None,
                  show: bool, check_every: int = 1, undeclared: bool = False) -> dict[str, object]:
    """Double from ``start`` until a step fails, then bisect; the highest rate that held, and every step."""
    steps: list[Step] = []

    def attempt(rate: float) -> bool:
        step = run_step(rate, seconds, SEARCH_SETTLE_SECONDS, f"{profile}.{round(rate)}" if profile else None,
                        check_every, undeclared)
        steps.append(step)
        f = step.figures()
        print(f"{rate:>8.0f}/s: p50 {f['p50_seconds']} s, p99 {f['p99_seconds']} s, "
            f"{f['acknowledged']}/{f['reports']} acknowledged, worker CPU {f['worker_cpu_seconds']} s, "
            f"bare consumer {f['bare_consumer_messages_per_second']}/s, load {f['load_average']}: "
            f"{'holds' if step.holds else 'fails'}", file=sys.stdout if show else sys.stderr, flush=True)
        return step.holds

    held, failed, rate = 0.0, None, start
    while rate <= MAX_RATE:
        if not attempt(rate):
            failed = rate
            break
        held, rate = rate, rate * 2
    if failed is not None:
        low, high = held, failed
        for _ in range(bisect_steps):
            middle = round((low + high) / 2) if low else round(high / 2)
            if middle in (round(low), round(high)):
                break
            if attempt(middle):
                low = middle
            else:
                high = middle
        held = low
    bare = statistics.median(step.bare_rate for step in steps)
    return {
        "seconds_per_step": seconds, "target_p99_seconds": TARGET_P99_SECONDS,
        "steps": [step.figures() for step in steps],
        "capacity_reports_per_second": held, "lowest_failing_rate": min((s.rate for s in steps if not s.holds), default=None),
        "bare_consumer_messages_per_second": round(bare),
        "capacity_share_of_bare_consumer": round(held / bare, 4) if bare else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, help="how long reports are sent (60 s; 20 s a step with --find-capacity)")
    parser.add_argument("--find-capacity", action="store_true",
                        help="search for the highest rate one worker sustains with p99 under 1 s")
    parser.add_argument("--start-rate", type=float, default=250, help="the search's first rate")
    parser.add_argument("--bisect-steps", type=int, default=3,
                        help="steps between the last rate that held and the first that failed")
    parser.add_argument("--profile", help="write py-spy's collapsed stacks of the worker to this file")
    parser.add_argument("--api-check-every", type=int, default=1, help="check one request in N against SendGrid's rules")
    parser.add_argument("--undeclared", action="store_true", help="no incident: every reporter gets a triage receipt")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.find_capacity:
        result = find_capacity(args.start_rate, args.seconds or 20, args.bisect_steps, args.profile, not args.json,
                               args.api_check_every, args.undeclared)
        if args.json:
            print(json.dumps(result))
        else:
            share = result["capacity_share_of_bare_consumer"]
            print(f"capacity: {result['capacity_reports_per_second']:.0f} reports/s with p99 under 1 s "
                  f"(first failing rate {result['lowest_failing_rate']}); bare consumer "
                  f"{result['bare_consumer_messages_per_second']} msg/s (median of the steps); share {share}")
        return
    step = run_step(args.rate, args.seconds or 60, SETTLE_SECONDS, args.profile, args.api_check_every, args.undeclared)
    figures = step.figures()
    print(json.dumps(figures) if args.json else "\n".join(f"{k:>34}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
