"""Acknowledgement latency: bug reports at 500 a second for 60 s into the running system (target p99 < 1 s).

    python bench/ack_latency.py [--rate 500] [--seconds 60] [--json]

Embedded defaults: the embedded broker, a SQLite file, one real worker process, and the
local SendGrid-API server (in this process) as the mail API. Every report matches the
open incident, so every reporter is owed an acknowledgement. Latency runs from the
moment a report is handed to the producer to the moment the API accepted the request
carrying that reporter's acknowledgement (both clocks are this process's).

In the same run, a bare aiokafka consumer reads the whole bug-report topic on the same
broker: the rate at which anything at all can read it, the ceiling for the pipeline.
"""

import argparse
import asyncio
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from kafka import KafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import sendgrid_system
from scale_out import declare

from broadcaster.domain.events import BugReportReceived
from broadcaster.wire.codec import encode_bug_report
from tests.support.sendgrid_server import SandboxState
from tests.support.worker import running_worker

TEXTS = ("search returns nothing since this morning", "the search box finds nothing, not even my own name",
         "searching for anything gives an empty page", "search results are empty for every query")
WARM_UP = 20
SETTLE_SECONDS = 120


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


def wait_for(state: SandboxState, addresses: set[str], deadline: float) -> dict[str, float]:
    while time.monotonic() < deadline:
        accepted = state.first_acceptances()
        if addresses <= accepted.keys():
            return accepted
        time.sleep(0.2)
    return state.first_acceptances()


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[round(share * 1000) - 1]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    count = int(args.rate * args.seconds)
    with sendgrid_system("ack") as bench:
        declare(bench.settings)
        topic, state = f"{bench.settings.topic_prefix}bug-reports", bench.sandbox.state
        producer = KafkaProducer(bootstrap_servers=bench.bootstrap, acks="all", enable_idempotence=False, linger_ms=2)
        with running_worker(bench.settings, bench.bootstrap):
            warm = produce(producer, topic, WARM_UP, 50, "warm")
            wait_for(state, set(warm), time.monotonic() + SETTLE_SECONDS)
            sent_at = produce(producer, topic, count, args.rate, "user")
            produce_seconds = max(sent_at.values()) - min(sent_at.values())
            accepted = wait_for(state, set(sent_at), time.monotonic() + SETTLE_SECONDS)
        producer.close()
        ceiling = asyncio.run(bare_consumer_rate(bench.bootstrap, topic, count + WARM_UP))
    latencies = sorted(accepted[a] - sent for a, sent in sent_at.items() if a in accepted)
    figures = {
        "reports": count, "target_rate": args.rate, "achieved_rate": round(count / produce_seconds),
        "acknowledged": len(latencies), "missing": count - len(latencies),
        "p50_seconds": round(percentile(latencies, 0.50), 3), "p99_seconds": round(percentile(latencies, 0.99), 3),
        "max_seconds": round(latencies[-1], 3), "target_p99_seconds": 1.0,
        "bare_consumer_messages_per_second": round(ceiling),
    }
    print(json.dumps(figures) if args.json else "\n".join(f"{k:>34}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
