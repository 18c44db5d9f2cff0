"""What on-call sees when a worker or the broker dies: `status`, `lag` and `/health/ready` tell the truth at once.

The embedded broker cannot describe consumer groups, so a dead worker shows only in lag
and commit age, and only the worker itself knows whether it can read its topics.
"""

import json
import re
import signal
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import urlopen

from kafka import KafkaProducer

from broadcaster.config import Settings
from broadcaster.domain.events import BugReportReceived
from broadcaster.embedded.broker import EmbeddedBroker, free_port, start_broker
from broadcaster.kafka.topics import ensure_topics
from broadcaster.services import dead_letters
from broadcaster.storage.database import make_engine, make_session_factory
from broadcaster.wire.codec import encode_bug_report
from broadcaster.wire.dead_letters import DeadLetter
from tests.e2e.conftest import System
from tests.support.waiting import wait_for
from tests.support.worker import running_worker


def publish_reports(system: System, count: int) -> None:
    """``count`` valid reports from different people, so they spread over the partitions."""
    producer = KafkaProducer(bootstrap_servers=system.bootstrap, acks="all", enable_idempotence=False)
    for n in range(count):
        report = BugReportReceived(f"r-{n}", datetime.now(UTC), f"user{n}@example.com", "User", "search is broken",
                                   "search", "test")
        producer.send(system.topics.bug_reports, key=report.email.encode(), value=encode_bug_report(report))
    producer.flush()
    producer.close()


def lag_json(system: System, *args: str) -> tuple[int, dict]:
    result = system.invoke("lag", "--json", *args)
    [group] = json.loads(result.output.splitlines()[0])["groups"]
    return result.exit_code, group


def behind_on(group: dict, topic: str) -> int:
    return sum(p["lag"] for p in group["partitions"] if p["topic"] == topic)


def test_a_killed_worker_fails_status_and_lag_counts_the_reports_waiting_for_it(
    broker: str, settings_factory, sqlite_url: str
) -> None:
    settings = settings_factory(sqlite_url)
    ensure_topics(settings, broker)
    system = System(settings, broker, None)
    with running_worker(settings, broker) as worker:
        publish_reports(system, 1)
        wait_for(lambda: any(p["committed"] for p in lag_json(system)[1]["partitions"]), what="the worker's commit")
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    publish_reports(system, 50)

    code, group = lag_json(system)
    assert behind_on(group, system.topics.bug_reports) == 50 == group["lag_messages"]
    uncommitted = [p for p in group["partitions"] if p["committed"] is None and p["lag"]]
    assert uncommitted and all("lag counted from the log start (0)" in p["note"] for p in uncommitted)

    status = wait_for(lambda: "FAIL workers" in (r := system.invoke("status", "--stall-after", "2")).output and r,
                      timeout=20, what="status to notice the dead worker")
    assert status.exit_code == 1
    assert re.search(r"FAIL workers .*membership unknown.*no progress for \d+ s while 50 message\(s\) wait",
                     status.output), status.output
    assert "FAIL lag               STALL, 50 message(s) behind" in status.output
    code, group = lag_json(system, "--stall-after", "2")
    assert code == 2 and group["status"] == "STALL" and group["lag_messages"] == 50


def test_status_fails_while_a_dead_letter_waits_and_counts_every_one_on_the_topic_however_the_broker_batches_them(
    broker: str, settings_factory, sqlite_url: str
) -> None:
    """What fails the check is what an operator can deal with: the letters kept in SQL, until replayed or
    purged (the check once counted the topic, which no command can empty, so it failed for good). The
    topic's count is still shown, exact on the embedded broker, whose end offsets fall short."""
    settings = settings_factory(sqlite_url)
    ensure_topics(settings, broker)
    system = System(settings, broker, None)
    producer = KafkaProducer(bootstrap_servers=broker, acks="all", enable_idempotence=False)
    for batch in range(3):  # three batches on each of the four partitions
        for partition in range(4):
            producer.send(system.topics.dead_letters, value=b"letter %d" % batch, partition=partition)
        producer.flush()
    producer.close()
    with make_session_factory(make_engine(sqlite_url)).begin() as session:
        for offset in range(2):
            dead_letters.store(session, DeadLetter("not JSON", "link-reports", system.topics.bug_reports, 0, offset,
                                                   b"{", datetime.now(UTC)), None)

    status = system.invoke("status")
    assert ("FAIL dead letters      2 waiting: `broadcaster dead-letters list`, then replay or purge; "
            f"12 on {system.topics.dead_letters}") in status.output, status.output
    assert status.exit_code == 1

    system.run("dead-letters", "purge", "--all", input="y\n")
    status = system.invoke("status")
    assert f"ok   dead letters      none waiting; 12 on {system.topics.dead_letters}" in status.output, status.output


def readiness(settings: Settings) -> tuple[int, list[str]]:
    try:
        with urlopen(f"http://127.0.0.1:{settings.worker_web_port}/health/ready", timeout=5) as answer:
            return answer.status, json.loads(answer.read())["problems"]
    except HTTPError as error:
        return error.code, json.loads(error.read())["problems"]


@contextmanager
def own_broker(log: Path) -> Iterator[EmbeddedBroker]:
    started = start_broker(log)
    try:
        yield started
    finally:
        started.stop()


def test_a_worker_is_not_ready_without_partitions_or_without_a_broker(settings_factory, sqlite_url: str,
                                                                      tmp_path: Path) -> None:
    """Two workers on one-partition topics (one gets nothing), on a broker of this test's own, which is then killed."""
    with own_broker(tmp_path / "broker.log") as broker, ExitStack() as stack:
        base = settings_factory(sqlite_url, topic_partitions=1)
        ensure_topics(base, broker.bootstrap)
        workers = {name: base.model_copy(update={"worker_web_port": free_port(), "state_dir": base.state_dir / name})
                   for name in ("w1", "w2")}
        processes = [stack.enter_context(running_worker(s, broker.bootstrap)) for s in workers.values()]
        no_partitions = ["kafka: no partitions assigned (more workers than partitions, or the group join failed)"]
        wait_for(lambda: sorted(readiness(s) for s in workers.values()) == [(200, []), (503, no_partitions)],
                 timeout=30, what="one worker ready, the other without partitions")

        broker.process.send_signal(signal.SIGKILL)
        broker.process.wait()
        wait_for(lambda: all(readiness(s)[0] == 503 and "kafka: no connection to any broker" in readiness(s)[1]
                             for s in workers.values()), timeout=15, what="both workers not ready")
        live = urlopen(f"http://127.0.0.1:{workers['w1'].worker_web_port}/health/live", timeout=5)
        assert live.status == 200  # the event loop answers: nothing to restart
        for process in processes:  # without a broker they would take their whole stop timeout
            process.kill()
            process.wait()
