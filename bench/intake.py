"""Intake: reports accepted per second by one `broadcaster serve`, and the time from POST to acknowledgement.

    python bench/intake.py [--reports 20000] [--concurrency 64] [--rate 200] [--seconds 60] [--json]

Embedded defaults: the embedded broker, a SQLite file, one serve process (a child, as in
production), the local SendGrid-API server (in this process) as the mail API, clients in
this process over keep-alive HTTP (aiohttp, the cheapest client installed: on 2 cores the
client's CPU is taken from the server's).

Each phase has a fresh system (harness.sendgrid_system), so the second does not start
behind the first one's backlog.

1. Throughput (targets at least 2,000 a second): ``--reports`` reports posted by
   ``--concurrency`` clients as fast as they are answered, with no worker running. A report
   counts once its 202 came back, which is once it is committed to the outbox. Also
   reported: the serve process's CPU time per report (user + system, all its threads),
   which the other processes on the machine do not inflate.
2. Acknowledgement (targets p99 under 1 s): the worker is started, an incident is open,
   and reports that match it are posted at ``--rate`` a second for ``--seconds``, each with
   an Idempotency-Key, every tenth posted a second time as a client retry would. Latency
   runs from the moment a report is posted to the moment the mail API accepted the request
   carrying its reporter's acknowledgement (both clocks are this process's). Lost: a report
   answered 202 whose reporter was never acknowledged; duplicated: a reporter the mail API
   was asked to email more than once. The intake's own share is reported apart: from the
   POST to its 202 (committed; publishing follows within tens of milliseconds); the rest
   is the broker's and the worker's.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import aiohttp
import httpx
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ack_latency import SETTLE_SECONDS, TEXTS, WARM_UP, percentile, wait_for
from harness import Bench, sendgrid_system
from scale_out import declare

from broadcaster.bootstrap import bootstrap, utc_now
from broadcaster.config import Settings
from broadcaster.embedded.broker import free_port
from broadcaster.services import api_keys
from broadcaster.storage.database import transaction
from broadcaster.storage.models import OutboxMessage
from tests.support.sendgrid_server import SandboxState
from tests.support.worker import running_worker, settings_environment

RETRY_EVERY = 10  # every tenth report of the paced phase is posted twice
# The texts the matcher links to the bench's incident with certainty; it only suggests the
# others to an engineer, and a suggested report's reporter is acknowledged once one decides.
LINKED_TEXTS = TEXTS[:2]


def report(n: int, prefix: str, text: str) -> dict:
    return {"reporter": {"email": f"{prefix}{n}@example.com", "name": f"User {n}"}, "component": "search", "text": text}


@contextmanager
def serving(settings: Settings) -> Iterator[tuple[str, int]]:
    """``broadcaster serve`` in a child process: its URL and process id."""
    server = subprocess.Popen([sys.executable, "-m", "broadcaster", "serve"], env=os.environ | settings_environment(settings))
    url = f"http://127.0.0.1:{settings.intake_port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("broadcaster serve did not start") from None
                time.sleep(0.1)
        yield url, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client(url: str, key: str, connections: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(url, headers={"Authorization": f"Bearer {key}"},
                                 connector=aiohttp.TCPConnector(limit=connections))


async def post_all(url: str, key: str, count: int, concurrency: int) -> tuple[float, int]:
    """Seconds to have ``count`` reports accepted, and how many answers were not 202."""
    numbers, refused = iter(range(count)), 0
    async with client(url, key, concurrency) as session:

        async def poster() -> None:
            nonlocal refused
            for n in numbers:
                async with session.post("/v1/reports", json=report(n, "load", "CSV upload fails")) as answer:
                    await answer.read()
                    refused += answer.status != 202

        started = time.perf_counter()
        await asyncio.gather(*(poster() for _ in range(concurrency)))
        return time.perf_counter() - started, refused


async def post_paced(url: str, key: str, count: int, rate: float,
                     prefix: str) -> tuple[dict[str, float], list[float], int]:
    """Post ``count`` matching reports at ``rate`` a second, on schedule: when each address's report was
    posted (those answered 202), the seconds each first post took to be answered, and how many answers
    were not 202."""
    posted_at: dict[str, float] = {}
    answered_in: list[float] = []
    refused = 0
    async with client(url, key, 256) as session:

        async def post(n: int) -> None:
            nonlocal refused
            body, headers = report(n, prefix, LINKED_TEXTS[n % len(LINKED_TEXTS)]), {"Idempotency-Key": f"{prefix}-{n}"}
            moment = time.time()
            for _ in range(2 if n % RETRY_EVERY == 0 else 1):
                async with session.post("/v1/reports", json=body, headers=headers) as answer:
                    await answer.read()
                    refused += answer.status != 202
                    if answer.status == 202 and body["reporter"]["email"] not in posted_at:
                        posted_at[body["reporter"]["email"]] = moment
                        answered_in.append(time.time() - moment)

        started, tasks = time.perf_counter(), []
        for n in range(count):
            await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(post(n)))
        await asyncio.gather(*tasks)
    return posted_at, answered_in, refused


UNPUBLISHED = select(func.count()).where(OutboxMessage.published_at.is_(None))


def count_rows(sessions: sessionmaker[Session], query: Select) -> int:
    with sessions() as session:
        return session.scalar(query) or 0


def wait_until(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not condition():
        time.sleep(0.1)


def throughput(sessions: sessionmaker[Session], url: str, pid: int, key: str, count: int, concurrency: int) -> dict:
    cpu_before = cpu_seconds(pid)
    seconds, refused = asyncio.run(post_all(url, key, count, concurrency))
    cpu = cpu_seconds(pid) - cpu_before
    waited = time.perf_counter()
    wait_until(lambda: count_rows(sessions, UNPUBLISHED) == 0, SETTLE_SECONDS)
    return {"reports": count, "concurrency": concurrency, "refused": refused, "seconds": round(seconds, 2),
            "accepted_per_second": round((count - refused) / seconds),
            "serve_cpu_ms_per_report": round(1000 * cpu / count, 3),
            "all_published_seconds_after_the_last_202": round(time.perf_counter() - waited, 2),
            "unpublished_at_the_end": count_rows(sessions, UNPUBLISHED)}


def acknowledgements(url: str, key: str, state: SandboxState, rate: float, seconds: float) -> dict:
    warm, _, _ = asyncio.run(post_paced(url, key, WARM_UP, 50, "warm"))
    wait_for(state, set(warm), time.monotonic() + SETTLE_SECONDS)
    count = int(rate * seconds)
    posted_at, answered_in, refused = asyncio.run(post_paced(url, key, count, rate, "user"))
    posting_seconds = max(posted_at.values()) - min(posted_at.values())
    accepted = wait_for(state, set(posted_at), time.monotonic() + SETTLE_SECONDS)
    latencies = sorted(accepted[address] - moment for address, moment in posted_at.items() if address in accepted)
    emailed = Counter(state.recipients())
    answered_in.sort()
    return {
        "reports": count, "retried": len(range(0, count, RETRY_EVERY)), "target_rate": rate,
        "achieved_rate": round(count / posting_seconds), "refused": refused, "acknowledged": len(latencies),
        "lost": len(posted_at.keys() - accepted.keys()),
        "duplicated": sum(1 for address in posted_at if emailed[address] > 1),
        "p50_seconds": round(percentile(latencies, 0.50), 3), "p99_seconds": round(percentile(latencies, 0.99), 3),
        "max_seconds": round(latencies[-1], 3), "target_p99_seconds": 1.0,
        "answered_p50_seconds": round(percentile(answered_in, 0.50), 3),
        "answered_p99_seconds": round(percentile(answered_in, 0.99), 3),
    }


@contextmanager
def intake_system(name: str) -> Iterator[tuple[Bench, sessionmaker[Session], str, str, int]]:
    """A fresh system (harness.sendgrid_system) with an open incident, an API key and a serve process."""
    overrides = {"intake_port": free_port(), "intake_rate_per_key": 1e6, "intake_burst_per_key": 1_000_000}
    with sendgrid_system(name, **overrides) as bench:
        settings = bench.settings.model_copy(update={"kafka_bootstrap": bench.bootstrap})
        bench = replace(bench, settings=settings)
        declare(settings)
        services = bootstrap(settings)
        with transaction(services.sessions) as session:
            key = api_keys.create(session, "bench", utc_now())
        try:
            with serving(settings) as (url, pid):
                yield bench, services.sessions, key, url, pid
        finally:
            services.engine.dispose()


def run(count: int, concurrency: int, rate: float, seconds: float) -> dict:
    with intake_system("intake") as (_, sessions, key, url, pid):
        figures = {"throughput": throughput(sessions, url, pid, key, count, concurrency)}
    with intake_system("intake-ack") as (bench, _, key, url, _), running_worker(bench.settings, bench.bootstrap):
        figures["acknowledgement"] = acknowledgements(url, key, bench.sandbox.state, rate, seconds)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=20_000, help="reports in the throughput phase")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rate", type=float, default=200, help="reports a second in the acknowledgement phase")
    parser.add_argument("--seconds", type=float, default=60, help="length of the acknowledgement phase")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = run(args.reports, args.concurrency, args.rate, args.seconds)
    if args.json:
        print(json.dumps(figures))
        return
    for phase, values in figures.items():
        print(phase)
        print("\n".join(f"{name:>42}: {value}" for name, value in values.items()))


if __name__ == "__main__":
    main()
