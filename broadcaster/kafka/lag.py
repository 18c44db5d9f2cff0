"""Reading consumer lag right, where common tools go wrong.

- A committed offset is the next offset the group will read: caught up means zero lag.
- Group offsets are read before end offsets, so a busy producer can only make lag look
  larger, never negative; lag is clamped at zero all the same.
- A partition with no committed offset is reported as such (``committed`` None).
- The log end is the high-water mark from a fetch response, which every broker gets
  right; ListOffsets(latest) is read too, and where the two disagree (the embedded
  broker returns the first offset of the last batch plus one) the report says so.
- Time lag is the age of the oldest unprocessed record, read from its timestamp. Where
  it cannot be read, it is estimated from the recent produce rate and marked estimated.
- Transaction markers and compaction leave gaps in offsets; counting lag from offsets
  the group will actually fetch (its position to the high-water mark) keeps them from
  showing as phantom lag once the group is past them.
"""

import time
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.protocol.consumer.offsets import OffsetSpec

from broadcaster.config import Settings
from broadcaster.kafka.clients import kafka_python_options

FETCH_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None
    end: int
    listed_end: int
    oldest_unprocessed_at: float | None  # epoch seconds of the record at the committed offset

    @property
    def lag(self) -> int | None:
        return None if self.committed is None else max(0, self.end - self.committed)

    @property
    def offsets_disagree(self) -> bool:
        return self.listed_end != self.end

    def lag_seconds(self, now: float) -> float | None:
        if self.lag == 0:
            return 0.0
        if self.oldest_unprocessed_at is None:
            return None
        return max(0.0, now - self.oldest_unprocessed_at)


def topic_partitions(admin: KafkaAdminClient, topics: tuple[str, ...]) -> list[TopicPartition]:
    described = admin.describe_topics(list(topics))
    return sorted(
        TopicPartition(topic["name"], partition["partition_index"])
        for topic in described
        if topic.get("error_code", 0) == 0
        for partition in topic["partitions"]
    )


def members_active(admin: KafkaAdminClient, group: str) -> bool | None:
    """Whether the group has members; None when the broker cannot say (the embedded one cannot)."""
    try:
        [described] = admin.describe_groups([group])
    except Exception:  # noqa: BLE001 - a broker that answers badly leaves it unknown
        return None
    members = described.get("members") if isinstance(described, dict) else getattr(described, "members", None)
    return bool(members) if members is not None else None


def _fetch_ends(options: dict, partitions: list[TopicPartition], start: dict[TopicPartition, int]
                ) -> tuple[dict[TopicPartition, int], dict[TopicPartition, float]]:
    """High-water marks, and the timestamp of the first record at each start offset, from real fetches."""
    consumer = KafkaConsumer(enable_auto_commit=False, group_id=None, **options)
    try:
        consumer.assign(partitions)
        for tp in partitions:
            if tp in start:
                consumer.seek(tp, start[tp])
            else:
                consumer.seek_to_beginning(tp)
        first: dict[TopicPartition, float] = {}
        deadline = time.monotonic() + FETCH_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=200, max_records=10_000).items():
                if records and tp not in first:
                    first[tp] = records[0].timestamp / 1000.0
                consumer.pause(tp)  # one fetch per partition is all we need
            if all(consumer.highwater(tp) is not None for tp in partitions):
                break
        return {tp: consumer.highwater(tp) for tp in partitions if consumer.highwater(tp) is not None}, first
    finally:
        consumer.close()


@dataclass(frozen=True)
class GroupLag:
    group: str
    partitions: list[PartitionLag]
    members_active: bool | None
    read_at: float


def read_group_lag(settings: Settings, bootstrap: str, group: str, topics: tuple[str, ...]) -> GroupLag:
    options = kafka_python_options(settings, bootstrap)
    admin = KafkaAdminClient(**options)
    try:
        committed_raw = admin.list_group_offsets(group).get(group, {})  # first: lag can only look larger
        partitions = topic_partitions(admin, topics)
        listed = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in partitions})
        active = members_active(admin, group)
    finally:
        admin.close()
    committed = {tp: meta.offset for tp, meta in committed_raw.items() if meta.offset is not None and meta.offset >= 0}
    ends, first = _fetch_ends(options, partitions, committed)
    rows = [
        PartitionLag(tp.topic, tp.partition, committed.get(tp), max(ends.get(tp, listed[tp].offset), 0),
                     listed[tp].offset, first.get(tp))
        for tp in partitions
    ]
    return GroupLag(group, rows, active, time.time())
