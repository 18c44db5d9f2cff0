"""Scale-out: the same backlog of bug reports handled by 1, 2 and 4 workers in one group.

    python bench/scale_out.py [--reports 100000] [--workers 1 2 4] [--json]

Embedded broker, PostgreSQL (BROADCASTER_TEST_POSTGRES_URL or the local server), the
outbox. For each worker count: fresh topics and schema, an open incident, the backlog
produced first, then the workers started; the clock runs from the moment every worker
is ready until every report is stored and decided. Emails are not waited for.
"""

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafka import KafkaProducer
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from broadcaster.config import Settings
from broadcaster.domain.events import BugReportReceived, IncidentDeclared
from broadcaster.embedded.broker import CLIENT_SETTINGS, free_port, start_broker
from broadcaster.kafka.topics import ensure_topics
from broadcaster.services.incidents import apply_incident_event
from broadcaster.services.linking import LinkingModel
from broadcaster.storage.database import make_engine, make_session_factory
from broadcaster.storage.models import Report
from broadcaster.wire.codec import encode_bug_report
from tests.support.databases import fresh_database
from tests.support.worker import running_worker

PARTITIONS = 4


def declare(settings: Settings) -> None:
    now = datetime.now(UTC)
    event = IncidentDeclared("bench-declare", "INC-BENCH-1", now, "Search returns nothing", "search", "sev2",
                             now + timedelta(hours=2), ("search",))
    sessions = make_session_factory(make_engine(settings.database_url))
    with sessions.begin() as session:
        apply_incident_event(session, event, now=now, model=LinkingModel(settings))


def produce_backlog(settings: Settings, bootstrap: str, count: int) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, linger_ms=20)
    topic, now = f"{settings.topic_prefix}bug-reports", datetime.now(UTC)
    for n in range(count):
        report = BugReportReceived(f"b-{n}", now, f"user{n}@example.com", f"User {n}",
                                   "search returns nothing since this morning", "search", "bench")
        producer.send(topic, key=report.email.encode(), value=encode_bug_report(report))
    producer.flush()
    producer.close()


def stored(settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    with engine.connect() as connection:
        count = connection.scalar(select(func.count()).select_from(Report)) or 0
    engine.dispose()
    return count


def run(workers: int, reports: int, bootstrap: str, folder: Path) -> dict:
    with fresh_database("postgresql", folder) as url:
        run_id = uuid.uuid4().hex[:8]
        settings = Settings(database_url=url, topic_prefix=f"s{run_id}.", app_id=f"scale-{run_id}",
                            topic_partitions=PARTITIONS, outbox_dir=folder / f"outbox-{run_id}",
                            state_dir=folder / f"state-{run_id}", **CLIENT_SETTINGS)
        ensure_topics(settings, bootstrap)
        declare(settings)
        produce_backlog(settings, bootstrap, reports)
        with ExitStack() as stack:
            for n in range(workers):
                each = settings.model_copy(update={"worker_web_port": free_port(), "state_dir": settings.state_dir / f"w{n}"})
                stack.enter_context(running_worker(each, bootstrap))
            started = time.perf_counter()
            while stored(settings) < reports:
                time.sleep(0.5)
            elapsed = time.perf_counter() - started
    return {"workers": workers, "reports": reports, "seconds": round(elapsed, 2),
            "reports_per_second": round(reports / elapsed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        broker = start_broker(Path(folder) / "broker.log")
        try:
            results = [run(n, args.reports, broker.bootstrap, Path(folder)) for n in args.workers]
        finally:
            broker.stop()
    figures = {"partitions": PARTITIONS, "cores": os.cpu_count(), "runs": results}
    if args.json:
        print(json.dumps(figures))
    else:
        for result in results:
            print(f"{result['workers']} worker(s): {result['reports']} reports in {result['seconds']} s, "
                  f"{result['reports_per_second']} reports/s")


if __name__ == "__main__":
    main()
