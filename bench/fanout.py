"""Fan-out of a resolution to 100,000 subscribers through the SendGrid path (target: within 20 s).

    python bench/fanout.py [--subscribers 100000] [--naive 5000] [--json]

Embedded defaults: the embedded broker, a SQLite file, one real worker process, and the
local SendGrid-API server (in this process) as the mail API. The incident and its
subscribers are written straight to SQL (seeding 100,000 reports through the pipeline
is not what is measured); the clock runs from publishing the resolution event to the
API having accepted every recipient. In the same run, a naive sender (one mail/send
request per recipient) sends the first N, and the per-recipient ratio is reported.

The local server checks every request as strictly as SendGrid (schema and rules, about
70 ms of CPU for 1,000 recipients) on the same two cores as the worker; the CPU it spent
doing so is reported as ``server_checking_cpu_seconds``: SendGrid does that work on its
own machines, not ours.
"""

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafka import KafkaProducer
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import KEY, sendgrid_system

from broadcaster.config import Settings
from broadcaster.domain.email import OutgoingEmail
from broadcaster.domain.events import IncidentDeclared, IncidentResolved
from broadcaster.mail.sendgrid_api import SendGridMailer
from broadcaster.services.incidents import apply_incident_event
from broadcaster.services.linking import LinkingModel
from broadcaster.storage.database import make_engine, make_session_factory
from broadcaster.storage.models import Report, Subscriber
from broadcaster.wire.codec import encode_incident_event
from tests.support.sendgrid_server import SandboxServer, SandboxState
from tests.support.worker import running_worker


def seed(settings: Settings, count: int) -> None:
    now = datetime.now(UTC)
    declared = IncidentDeclared("bench-declared", "INC-FANOUT-1", now, "Search returns nothing", "search", "sev2",
                                now + timedelta(hours=2), ("search",))
    engine = make_engine(settings.database_url)
    with make_session_factory(engine).begin() as session:
        apply_incident_event(session, declared, now=now, model=LinkingModel(settings))
    reports = [{"id": f"f-{n}", "email": f"user{n}@example.com", "name": f"User {n}", "text": "search returns nothing",
                "component": "search", "source": "bench", "received_at": now - timedelta(minutes=1),
                "incident_id": "INC-FANOUT-1", "linked_at": now, "link_state": "linked"} for n in range(count)]
    subscribers = [{"incident_id": "INC-FANOUT-1", "email": r["email"], "name": r["name"], "first_report_id": r["id"],
                    "subscribed_at": now - timedelta(minutes=1)} for r in reports]
    with engine.begin() as connection:
        for start in range(0, count, 10_000):
            connection.execute(insert(Report), reports[start : start + 10_000])
            connection.execute(insert(Subscriber), subscribers[start : start + 10_000])
    engine.dispose()


def resolve(settings: Settings, bootstrap: str) -> None:
    event = IncidentResolved("bench-resolved", "INC-FANOUT-1", datetime.now(UTC), "Search works again.",
                             "Search for your own name.")
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    producer.send(f"{settings.topic_prefix}incident-events", key=b"INC-FANOUT-1", value=encode_incident_event(event))
    producer.flush()
    producer.close()


def naive(count: int) -> float:
    """One request per recipient: the design to beat. Returns seconds for ``count`` recipients."""
    sandbox = SandboxServer(SandboxState(KEY)).start_in_background()
    mailer = SendGridMailer(KEY, sandbox.url, "support@example.com", "Example Support")
    emails = [OutgoingEmail(n, f"naive{n}@example.com", "N", "Fixed", "Hi", "<p>Hi</p>") for n in range(1, count + 1)]
    started = time.perf_counter()
    mailer.send(emails)
    elapsed = time.perf_counter() - started
    assert len(sandbox.state.recipients()) == count
    sandbox.shutdown()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--naive", type=int, default=5_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with sendgrid_system("fanout") as bench:
        seed(bench.settings, args.subscribers)
        state = bench.sandbox.state
        with running_worker(bench.settings, bench.bootstrap):
            started = time.perf_counter()
            resolve(bench.settings, bench.bootstrap)
            while len(state.accepted) == 0 or len(state.recipients()) < args.subscribers:
                time.sleep(0.1)
            batched = time.perf_counter() - started
        recipients, requests = state.recipients(), state.requests
    naive_seconds = naive(args.naive)
    per_batched, per_naive = batched / args.subscribers, naive_seconds / args.naive
    figures = {
        "subscribers": args.subscribers, "seconds_until_all_accepted": round(batched, 2),
        "requests": requests, "distinct_recipients": len(set(recipients)), "duplicates": len(recipients) - len(set(recipients)),
        "server_checking_cpu_seconds": round(state.checking_seconds, 2),
        "naive_recipients": args.naive, "naive_seconds": round(naive_seconds, 2),
        "naive_projected_seconds_for_all": round(per_naive * args.subscribers, 1),
        "speedup_per_recipient": round(per_naive / per_batched, 1), "target_seconds": 20,
    }
    print(json.dumps(figures) if args.json else "\n".join(f"{k:>32}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
