"""Intake throughput: bug reports accepted per second through POST /v1/reports by one `broadcaster serve`.

    python bench/intake.py [--reports 5000] [--concurrency 32] [--json]

Embedded defaults: the embedded broker, a SQLite file, one serve process (a child, as in
production), clients in this process over keep-alive HTTP. A report counts once its 202
came back, which is once it is committed to the outbox; the run then waits until every
report is published to the bug-reports topic and reports how long that took as well.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from broadcaster.bootstrap import bootstrap, utc_now
from broadcaster.config import Settings
from broadcaster.embedded.broker import CLIENT_SETTINGS, free_port, start_broker
from broadcaster.kafka.topics import ensure_topics
from broadcaster.services import api_keys
from broadcaster.storage.database import transaction, upgrade
from broadcaster.storage.models import OutboxMessage
from tests.support.worker import settings_environment


def report(n: int) -> dict:
    return {"reporter": {"email": f"user{n}@example.com", "name": f"User {n}"}, "component": "groups",
            "text": "I get an unexpected error when I upload a CSV of pre-approved members"}


async def post_all(url: str, key: str, count: int, concurrency: int) -> tuple[float, int]:
    """Seconds to have ``count`` reports accepted, and how many answers were not 202."""
    numbers, refused = iter(range(count)), 0
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:

        async def worker() -> None:
            nonlocal refused
            for n in numbers:
                answer = await client.post("/v1/reports", json=report(n))
                refused += answer.status_code != 202

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, refused


def unpublished(settings: Settings) -> int:
    with bootstrap(settings).sessions() as session:
        return session.scalar(select(func.count()).where(OutboxMessage.published_at.is_(None))) or 0


def wait_until_listening(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and server.poll() is None:
        try:
            httpx.get(f"{url}/openapi.json", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("broadcaster serve did not start")


def run(count: int, concurrency: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        broker = start_broker(Path(folder) / "broker.log")
        run_id = uuid.uuid4().hex[:8]
        settings = Settings(database_url=f"sqlite:///{folder}/intake.db", kafka_bootstrap=broker.bootstrap,
                            topic_prefix=f"intake-{run_id}.", state_dir=Path(folder) / "state",
                            intake_port=free_port(), intake_rate_per_key=1e6, intake_burst_per_key=1_000_000,
                            **CLIENT_SETTINGS)
        upgrade(settings.database_url)
        ensure_topics(settings, broker.bootstrap)
        with transaction(bootstrap(settings).sessions) as session:
            key = api_keys.create(session, "bench", utc_now())
        server = subprocess.Popen([sys.executable, "-m", "broadcaster", "serve"],
                                  env=os.environ | settings_environment(settings))
        url = f"http://127.0.0.1:{settings.intake_port}"
        try:
            wait_until_listening(url, server)
            seconds, refused = asyncio.run(post_all(url, key, count, concurrency))
            waited = time.perf_counter()
            while unpublished(settings) and time.perf_counter() - waited < 120:
                time.sleep(0.05)
            published_after = time.perf_counter() - waited
            left = unpublished(settings)
        finally:
            server.terminate()
            server.wait(timeout=30)
            broker.stop()
    return {"reports": count, "concurrency": concurrency, "refused": refused, "seconds": round(seconds, 2),
            "accepted_per_second": round(count / seconds), "all_published_seconds_after_the_last_202": round(published_after, 2),
            "unpublished_at_the_end": left}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.reports, args.concurrency)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['accepted_per_second']:,} reports accepted per second ({result['reports']:,} in {result['seconds']} s, "
              f"{result['refused']} refused); all published {result['all_published_seconds_after_the_last_202']} s later")


if __name__ == "__main__":
    main()
