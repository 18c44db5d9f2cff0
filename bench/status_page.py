"""One incident page under load: pages served per second by one `broadcaster serve`, latency, and how soon an update shows.

    python bench/status_page.py [--requests 20000] [--concurrency 16] [--json]

An incident with 10,000 subscribers and 50 updates on a SQLite file; one serve process (a
child, as in production); keep-alive HTTP/1.1 clients in this process, written on bare
asyncio streams so that the client costs less of the two cores than the server. Halfway
through, an update is applied to the database, and the run measures how long until the
page shows it while the load goes on. Targets (issue 18): >= 1,000 pages a second, p99 < 50 ms,
an update visible within 2 s.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from broadcaster.bootstrap import bootstrap
from broadcaster.config import Settings
from broadcaster.embedded.broker import CLIENT_SETTINGS, free_port, start_broker
from broadcaster.kafka.topics import ensure_topics
from broadcaster.storage.database import transaction, upgrade
from broadcaster.storage.models import Report, Subscriber
from tests.support.pages import Desk
from tests.support.worker import settings_environment

INCIDENT = "INC-261126-LOAD"
SUBSCRIBERS, UPDATES = 10_000, 50
NEWS = "bench: the fix is rolling out"


def seed(desk: Desk) -> None:
    """The incident, 49 progress updates after its declaration, and 10,000 reporters subscribed."""
    desk.declare(INCIDENT, "CSV upload to pre-approved members fails", workaround="Add members one by one.")
    for n in range(UPDATES - 1):
        desk.update(INCIDENT, f"Progress note {n}: we are testing a fix for the column check.")
    now = datetime.now(UTC)
    reports = [{"id": f"r{n}", "email": f"user{n}@example.com", "name": f"User {n}", "text": "CSV upload fails",
                "component": "groups", "source": "bench", "received_at": now, "incident_id": INCIDENT,
                "linked_at": now, "link_state": "linked"} for n in range(SUBSCRIBERS)]
    with transaction(desk.services.sessions) as session:
        session.execute(Report.__table__.insert(), reports)
        session.execute(Subscriber.__table__.insert(), [
            {"incident_id": INCIDENT, "email": r["email"], "name": r["name"], "first_report_id": r["id"],
             "subscribed_at": now, "confirmed": True} for r in reports])


async def one_client(host: str, port: int, path: str, count: list[int], latencies: list[float]) -> None:
    """GET ``path`` over one keep-alive connection while ``count[0]`` lasts, recording each request's seconds."""
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    while count[0] > 0:
        count[0] -= 1
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise SystemExit(f"the page answered {head.splitlines()[0]!r}")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
    writer.close()


async def load(url: str, port: int, requests: int, concurrency: int, desk: Desk) -> dict:
    path = f"/incidents/{INCIDENT}"
    count, latencies = [requests], []
    clients = [asyncio.create_task(one_client("127.0.0.1", port, path, count, latencies)) for _ in range(concurrency)]
    started = time.perf_counter()
    while count[0] > requests // 2:
        await asyncio.sleep(0.01)
    desk.update(INCIDENT, NEWS)  # committed now: how long until readers see it?
    updated = time.perf_counter()
    async with httpx.AsyncClient(base_url=url) as client:
        while NEWS not in (await client.get(path)).text:
            await asyncio.sleep(0.02)
    shown_after = time.perf_counter() - updated
    await asyncio.gather(*clients)
    seconds = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return {"requests": len(latencies), "concurrency": concurrency, "seconds": round(seconds, 2),
            "pages_per_second": round(len(latencies) / seconds), "p50_ms": round(cuts[49] * 1000, 2),
            "p99_ms": round(cuts[98] * 1000, 2), "max_ms": round(max(latencies) * 1000, 2),
            "update_visible_after_seconds": round(shown_after, 3)}


def wait_until_listening(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and server.poll() is None:
        try:
            httpx.get(f"{url}/", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("broadcaster serve did not start")


def run(requests: int, concurrency: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        broker = start_broker(Path(folder) / "broker.log")
        settings = Settings(database_url=f"sqlite:///{folder}/pages.db", kafka_bootstrap=broker.bootstrap,
                            topic_prefix="pages-bench.", state_dir=Path(folder) / "state", intake_port=free_port(),
                            **CLIENT_SETTINGS)
        upgrade(settings.database_url)
        ensure_topics(settings, broker.bootstrap)
        desk = Desk(bootstrap(settings))
        seed(desk)
        server = subprocess.Popen([sys.executable, "-m", "broadcaster", "serve"],
                                  env=os.environ | settings_environment(settings))
        url = f"http://127.0.0.1:{settings.intake_port}"
        try:
            wait_until_listening(url, server)
            result = asyncio.run(load(url, settings.intake_port, requests, concurrency, desk))
        finally:
            server.terminate()
            server.wait(timeout=30)
            broker.stop()
            desk.services.engine.dispose()
    return {"subscribers": SUBSCRIBERS, "updates": UPDATES + 1, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.requests, args.concurrency)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['pages_per_second']:,} pages a second ({result['requests']:,} in {result['seconds']} s), "
              f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms; an update showed after "
              f"{result['update_visible_after_seconds']} s")


if __name__ == "__main__":
    main()
