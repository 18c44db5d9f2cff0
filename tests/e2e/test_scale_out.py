"""Several workers in one consumer group: shared partitions, failover without loss or duplicates."""

import signal
import uuid
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.request import urlopen

from sqlalchemy import insert

from broadcaster.config import Settings
from broadcaster.embedded.broker import free_port
from broadcaster.kafka.topics import ensure_topics
from broadcaster.storage.database import make_engine
from broadcaster.storage.models import Report
from tests.e2e.conftest import PRODUCTION_UNSUBSCRIBE, System
from tests.support.sendgrid_server import SandboxServer, SandboxState
from tests.support.waiting import wait_for
from tests.support.worker import running_worker


def worker_settings(settings: Settings, name: str) -> Settings:
    """The same system (group, topics, database, outbox) with this worker's own port and logs."""
    return settings.model_copy(update={"worker_web_port": free_port(), "state_dir": settings.state_dir / name})


def seed_unlinked_reports(database_url: str, count: int) -> None:
    now = datetime.now(UTC)
    rows = [{"id": f"seed-{n}", "email": f"user{n}@example.com", "name": f"User {n}", "source": "seed",
             "text": "Search returns nothing at all since this morning", "component": "search",
             "received_at": now - timedelta(minutes=5), "link_state": "unlinked"} for n in range(count)]
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(insert(Report), rows)
    engine.dispose()


def test_two_workers_share_the_partitions_and_both_link_to_an_incident_declared_through_one(
    broker: str, settings_factory, postgres_url: str
) -> None:
    """Then both queue and send pages of one update, several requests in flight each, everyone told once.

    The mail API answers after 0.2 s, as a real round trip; pages are 40 people, so the
    update to 24 reporters and 300 affected people makes 9 pages for the two workers.
    """
    sandbox = SandboxServer(SandboxState("e2e-key", response_delay=0.2)).start_in_background()
    settings = settings_factory(postgres_url, **PRODUCTION_UNSUBSCRIBE, sendgrid_api_key="e2e-key",
                                sendgrid_api_host=sandbox.url, fan_out_page_size=40, mail_concurrency=4)
    ensure_topics(settings, broker)
    first, second = worker_settings(settings, "w1"), worker_settings(settings, "w2")
    system = System(settings, broker, sandbox)
    with running_worker(first, broker), running_worker(second, broker):
        for worker in (first, second):
            with urlopen(f"http://127.0.0.1:{worker.worker_web_port}/health/ready", timeout=5) as answer:
                assert answer.status == 200
        system.run("incident", "declare", "Search returns nothing", "--component", "search", "--match", "search")
        people = [f"p{n}-{uuid.uuid4().hex[:6]}@example.com" for n in range(24)]
        for email in people:
            system.run("report", "submit", "--email", email, "--name", "Pat", "--text",
                       "search returns nothing for me", "--component", "search")
        wait_for(lambda: all(system.counts().get(p) == Counter(acknowledgement=1) for p in people),
                 timeout=90, what="every reporter acknowledged")
        scraped = [urlopen(f"http://127.0.0.1:{w.worker_web_port}/metrics", timeout=5).read().decode()
                   for w in (first, second)]
        affected = [f"a{n}-{uuid.uuid4().hex[:6]}@example.com" for n in range(300)]
        incident_id = system.emails()[0]["incident"]
        system.run("incident", "affected", incident_id, "--csv", "-",
                   input="email,name\n" + "".join(f"{email},Alex {n}\n" for n, email in enumerate(affected)))
        system.run("incident", "update", incident_id, "A fix is being tested.")
        everyone = set(people) | set(affected)
        wait_for(lambda: all(system.counts().get(p, {}).get("progress") == 1 for p in everyone),
                 timeout=120, what="every subscriber told of the update")
        pages_per_worker = [_metric(urlopen(f"http://127.0.0.1:{w.worker_web_port}/metrics", timeout=5).read().decode(),
                                    'broadcaster_events_processed_total{processor="fan-out"}') for w in (first, second)]
    sandbox.shutdown()
    sandbox.server_close()
    assert {p: system.counts()[p] for p in affected} == {p: Counter(affected=1, progress=1) for p in affected}
    assert {p: system.counts()[p] for p in people} == {p: Counter(acknowledgement=1, progress=1) for p in people}
    assert all(n > 0 for n in pages_per_worker), f"fan-out work per worker: {pages_per_worker}"
    # each message counted once: the declaration and its one page (nobody had subscribed yet), the update and its 9
    assert sum(pages_per_worker) == (1 + 1) + (1 + 9)
    assert sandbox.state.most_in_flight > 2, "two workers with one request in flight each would make 2 at most"
    handled = [_metric(text, 'broadcaster_events_processed_total{processor="link-reports"}') for text in scraped]
    sent = sum(_metric(text, 'broadcaster_emails_total{outcome="sent"}') for text in scraped)
    assert sent == len(people)  # every acknowledgement counted once, across the two workers
    assert all("broadcaster_open_incidents 1.0" in text for text in scraped)
    assert sum(_metric(text, "broadcaster_acknowledgement_seconds_count") for text in scraped) == len(people)
    assert all(n > 0 for n in handled), f"reports handled per worker: {handled}"
    assert sum(handled) == len(people)


def test_a_worker_killed_mid_fan_out_leaves_the_other_to_finish_with_every_email_sent_once(
    broker: str, settings_factory, postgres_url: str
) -> None:
    settings = settings_factory(postgres_url, delivery_lease="3s", sweep_interval=1.0)
    ensure_topics(settings, broker)
    count = 3000
    seed_unlinked_reports(postgres_url, count)
    first, second = worker_settings(settings, "w1"), worker_settings(settings, "w2")
    system = System(settings, broker, None)
    with ExitStack() as stack:
        victim = stack.enter_context(running_worker(first, broker))
        stack.enter_context(running_worker(second, broker))
        system.run("incident", "declare", "Search returns nothing", "--component", "search", "--match", "search",
                   "--wait", "90")
        outbox = Path(settings.outbox_dir)
        wait_for(lambda: outbox.exists() and len(list(outbox.glob("*.eml"))) >= 200, timeout=90,
                 what="the fan-out to be under way")
        victim.send_signal(signal.SIGKILL)
        sent = len(list(outbox.glob("*.eml")))
        print(f"killed a worker after {sent} of {count} emails")
        wait_for(lambda: len(system.counts()) == count, timeout=120, what=f"all {count} acknowledgements")
    assert sent < count, "the kill came after the fan-out had finished; it proved nothing"
    wrong = {who: kinds for who, kinds in system.counts().items() if kinds != Counter(acknowledgement=1)}
    assert wrong == {}


def _metric(exposition: str, name: str) -> float:
    for line in exposition.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0
