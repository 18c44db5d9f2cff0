"""How fast `broadcaster lag` answers for 200 partitions (target: under a second).

    python bench/lag.py [--partitions 200] [--json]

Starts the embedded broker, creates Broadcaster's four consumed topics with 50 partitions
each, writes a few records to every partition and commits offsets for half of them,
then times the whole read (group offsets, ListOffsets, high-water fetches, oldest-record
timestamps) and evaluation, median of 5.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from broadcaster.config import Settings
from broadcaster.embedded.broker import CLIENT_SETTINGS, start_broker
from broadcaster.kafka.lag import read_group_lag
from broadcaster.kafka.topics import Topics, ensure_topics
from broadcaster.ops.lag_report import Window, evaluate_group


def prepare(settings: Settings, bootstrap: str, topics: tuple[str, ...], group: str) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, linger_ms=5)
    for topic in topics:
        for partition in range(settings.topic_partitions):
            for n in range(3):
                producer.send(topic, value=b"r%d" % n, partition=partition)
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    consumer.commit({TopicPartition(t, p): OffsetAndMetadata(2, None, -1)
                     for t in topics for p in range(0, settings.topic_partitions, 2)})
    consumer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        broker = start_broker(Path(folder) / "broker.log")
        try:
            settings = Settings(topic_prefix=f"lag{uuid.uuid4().hex[:6]}.", topic_partitions=args.partitions // 4,
                                state_dir=Path(folder), **CLIENT_SETTINGS)
            ensure_topics(settings, broker.bootstrap)
            names = Topics.from_prefix(settings.topic_prefix)
            topics = tuple(t for t in names.all() if t != names.dead_letters)
            prepare(settings, broker.bootstrap, topics, "bench-group")
            window, timings = Window(Path(folder) / "window.json", 600), []
            for _ in range(5):
                started = time.perf_counter()
                lag = read_group_lag(settings, broker.bootstrap, "bench-group", topics)
                evaluate_group(lag, window.add(lag))
                timings.append(time.perf_counter() - started)
        finally:
            broker.stop()
    figures = {"partitions": len(lag.partitions), "median_seconds": round(statistics.median(timings), 3),
               "max_seconds": round(max(timings), 3), "target_seconds": 1.0}
    print(json.dumps(figures) if args.json else "\n".join(f"{k:>16}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
