"""Consumer lag per partition: committed offset against the log end.

A committed offset is the next offset the group will read, so a caught-up
partition shows zero. Group offsets are read before end offsets, so a fast
producer can only make lag look larger, never negative. Some brokers (the
embedded one among them) report end offsets short of the truth; a committed
offset past the reported end is shown as ``end_behind_commit`` rather than as
negative lag.
"""

from dataclasses import dataclass

from kafka import TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.protocol.consumer.offsets import OffsetSpec

from broadcaster.config import Settings
from broadcaster.kafka.clients import kafka_python_options


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None
    end: int

    @property
    def lag(self) -> int | None:
        if self.committed is None:
            return None
        return max(0, self.end - self.committed)

    @property
    def end_behind_commit(self) -> bool:
        return self.committed is not None and self.committed > self.end


def group_lag(settings: Settings, bootstrap: str, group: str, topics: tuple[str, ...]) -> list[PartitionLag]:
    admin = KafkaAdminClient(**kafka_python_options(settings, bootstrap))
    try:
        committed = admin.list_group_offsets(group).get(group, {})
        partitions = [
            TopicPartition(described["name"], partition["partition_index"])
            for described in admin.describe_topics(list(topics))
            for partition in described["partitions"]
        ]
        ends = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in partitions})
    finally:
        admin.close()
    return [
        PartitionLag(
            tp.topic,
            tp.partition,
            committed[tp].offset if tp in committed and committed[tp].offset >= 0 else None,
            ends[tp].offset,
        )
        for tp in sorted(partitions)
    ]
