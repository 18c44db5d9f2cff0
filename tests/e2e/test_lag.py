"""broadcaster lag against the real broker: the cases where common lag tools go wrong."""

import json
import time

from click.testing import CliRunner
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from broadcaster.cli.main import cli
from broadcaster.kafka.topics import Topics, ensure_topics
from tests.support.worker import settings_environment

GROUP = "lag-test-group"


def lag_report(settings, bootstrap: str, *args: str) -> tuple[int, dict]:
    env = settings_environment(settings) | {"BROADCASTER_KAFKA_BOOTSTRAP": bootstrap}
    result = CliRunner().invoke(cli, ["lag", "--json", "--group", GROUP, *args], env=env, catch_exceptions=False)
    return result.exit_code, json.loads(result.output.splitlines()[0])


def produce(bootstrap: str, topic: str, count: int, partition: int = 0) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    for n in range(count):
        producer.send(topic, value=b"x%d" % n, partition=partition)
    producer.flush()
    producer.close()


def commit(bootstrap: str, tp: TopicPartition, offset: int) -> None:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=GROUP, enable_auto_commit=False)
    consumer.commit({tp: OffsetAndMetadata(offset, None, -1)})
    consumer.close()


def partitions(report: dict, topic: str) -> dict[int, dict]:
    [group] = report["groups"]
    return {p["partition"]: p for p in group["partitions"] if p["topic"] == topic}


def setup(broker: str, settings_factory, sqlite_url: str):
    settings = settings_factory(sqlite_url)
    ensure_topics(settings, broker)
    return settings, Topics.from_prefix(settings.topic_prefix).bug_reports


def test_a_caught_up_partition_has_zero_lag_and_an_uncommitted_one_lags_by_all_it_holds(
    broker: str, settings_factory, sqlite_url: str
) -> None:
    """The group starts where it never committed from the log start: all of it waits, not none of it."""
    settings, topic = setup(broker, settings_factory, sqlite_url)
    produce(broker, topic, 25, partition=0)
    commit(broker, TopicPartition(topic, 0), 25)
    for _ in range(3):  # several batches: the embedded broker's ListOffsets(latest) sees only the last one
        produce(broker, topic, 2, partition=1)
    code, report = lag_report(settings, broker)
    rows = partitions(report, topic)
    assert rows[0]["committed"] == 25 and rows[0]["end"] == 25 and rows[0]["lag"] == 0
    assert rows[0]["lag_seconds"] == 0 and rows[0]["status"] == "OK"
    assert (rows[1]["committed"], rows[1]["start"], rows[1]["end"], rows[1]["lag"]) == (None, 0, 6, 6)
    assert "no committed offset: lag counted from the log start (0)" in rows[1]["note"]
    assert rows[1]["lag_seconds"] is not None and not rows[1]["lag_seconds_estimated"]
    assert rows[2]["lag"] == 0 and report["groups"][0]["lag_messages"] == 6
    assert code == 0 and report["groups"][0]["status"] == "OK"  # one look, seconds after: no verdict yet


def test_a_stopped_consumer_with_a_growing_backlog_is_flagged_with_the_right_lag(
    broker: str, settings_factory, sqlite_url: str
) -> None:
    settings, topic = setup(broker, settings_factory, sqlite_url)
    produce(broker, topic, 10)
    commit(broker, TopicPartition(topic, 0), 10)
    first_unprocessed_at = time.time()
    for _ in range(3):  # the backlog grows while the group's offset stays put
        produce(broker, topic, 7)
        code, report = lag_report(settings, broker, "--max-messages", "5")
    row = partitions(report, topic)[0]
    assert row["committed"] == 10 and row["end"] == 31 and row["lag"] == 21
    assert row["status"] in ("STALL", "STOP") and report["groups"][0]["status"] in ("STALL", "STOP")
    assert not row["lag_seconds_estimated"]
    assert 0 <= row["lag_seconds"] <= time.time() - first_unprocessed_at + 1
    assert code == 2


def test_lag_is_never_negative_across_produce_and_consume_rounds(
    broker: str, settings_factory, sqlite_url: str
) -> None:
    settings, topic = setup(broker, settings_factory, sqlite_url)
    consumer = KafkaConsumer(bootstrap_servers=broker, group_id=GROUP, enable_auto_commit=False,
                             auto_offset_reset="earliest")
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumed = 0
    for round_number in range(8):
        produce(broker, topic, 5 + round_number)
        target = consumed + 3 + round_number
        while consumed < target:
            consumed += sum(len(r) for r in consumer.poll(500, max_records=target - consumed).values())
        consumer.commit()
        _, report = lag_report(settings, broker)
        row = partitions(report, topic)[0]
        assert row["end"] >= row["committed"] == consumed
        assert row["lag"] == row["end"] - row["committed"] >= 0
    consumer.close()


def test_status_fails_when_a_group_stalls_and_passes_when_it_is_caught_up(
    broker: str, settings_factory, sqlite_url: str
) -> None:
    settings, topic = setup(broker, settings_factory, sqlite_url)
    settings = settings.model_copy(update={"app_id": GROUP})
    env = settings_environment(settings) | {"BROADCASTER_KAFKA_BOOTSTRAP": broker}
    produce(broker, topic, 4)
    commit(broker, TopicPartition(topic, 0), 4)
    healthy = CliRunner().invoke(cli, ["status"], env=env)
    assert healthy.exit_code == 0, healthy.output
    assert "ok   lag               OK, 0 message(s) behind" in healthy.output
    produce(broker, topic, 3)
    CliRunner().invoke(cli, ["lag", "--json"], env=env)  # a first sample of the stalled offset
    stalled = CliRunner().invoke(cli, ["status"], env=env)
    assert stalled.exit_code == 1
    assert "FAIL lag               STALL, 3 message(s) behind" in stalled.output


def test_a_group_that_never_committed_here_is_pointed_out_as_a_possible_typo(
    broker: str, settings_factory, sqlite_url: str
) -> None:
    """`lag --group broadcastr` reported STALL, N behind, with nothing to say the name was wrong."""
    settings, topic = setup(broker, settings_factory, sqlite_url)
    produce(broker, topic, 3)
    commit(broker, TopicPartition(topic, 0), 1)
    env = settings_environment(settings) | {"BROADCASTER_KAFKA_BOOTSTRAP": broker}
    typo = CliRunner().invoke(cli, ["lag", "--group", "broadcastr"], env=env, catch_exceptions=False).output
    real = CliRunner().invoke(cli, ["lag", "--group", GROUP], env=env, catch_exceptions=False).output
    assert (f"(group broadcastr has committed no offset on these topics: is the name right? "
            f"This system's workers are group {settings.app_id})") in typo
    assert "is the name right?" not in real
