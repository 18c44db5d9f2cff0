"""The judgements behind /health/ready and a stalled partition, on states a live system rarely shows on cue."""

from broadcaster.kafka.lag import PartitionLag
from broadcaster.ops.lag_report import waiting_seconds
from broadcaster.ops.lag_status import Sample, Status, evaluate
from broadcaster.ops.readiness import ConsumerState, kafka_problems

NOW = 1_000_000.0


def test_a_consumer_whose_fetches_go_unanswered_is_not_ready_though_it_holds_a_connection() -> None:
    healthy = ConsumerState(True, False, 4, 1, NOW - 1)
    assert kafka_problems(healthy, NOW) == []
    assert kafka_problems(ConsumerState(True, False, 4, 1, NOW - 45), NOW) == ["kafka: no fetch answered for 45 s"]
    assert kafka_problems(ConsumerState(True, False, 4, 1, None), NOW) == []  # just assigned: no fetch yet
    assert kafka_problems(ConsumerState(False, False, 0, 0, None), NOW) == ["kafka: the consumer has not started"]


def row(committed: int | None, end: int, oldest_at: float | None) -> PartitionLag:
    return PartitionLag("t", 0, committed, 0, end, end, oldest_at)


def test_a_commit_seen_moving_restarts_the_wait_and_without_timestamps_the_window_tells() -> None:
    moved = [Sample(NOW - 50, 3, 10), Sample(NOW - 20, 5, 12), Sample(NOW, 5, 12)]
    assert waiting_seconds(row(5, 12, NOW - 40), moved, NOW) == 20  # the record waited 40 s, but a commit came 20 s ago
    assert waiting_seconds(row(5, 12, NOW - 40), moved[1:], NOW) == 40  # no move seen: the record's age
    assert waiting_seconds(row(5, 12, None), moved, NOW) == 20
    assert waiting_seconds(row(12, 12, NOW - 40), moved, NOW) is None  # caught up


def test_one_look_is_enough_to_call_a_partition_stalled_once_a_message_waited_too_long() -> None:
    first_look = Sample(NOW, None, 50)
    assert evaluate([first_look], None, waiting_seconds=5) is Status.OK
    assert evaluate([first_look], None, waiting_seconds=31) is Status.STALL
    assert evaluate([first_look], False, waiting_seconds=31) is Status.STOP
    assert evaluate([Sample(NOW - 5, None, 50), first_look], None) is Status.STALL  # never committed, still waiting
    assert evaluate([Sample(NOW - 5, None, 0), Sample(NOW, None, 0)], None) is Status.OK  # nothing there to read
    assert evaluate([Sample(NOW, 7, 9, start=9)], None, waiting_seconds=31) is Status.OK  # the rest was deleted


def test_a_message_that_just_arrived_at_an_idle_consumer_is_not_a_stall() -> None:
    """The commit stood still while there was nothing to read; the new message has waited 0 s (seen in CI)."""
    idle_then_busy = [Sample(NOW - 60, 7, 7), Sample(NOW - 30, 7, 7), Sample(NOW, 7, 8)]
    assert evaluate(idle_then_busy, None, waiting_seconds=0) is Status.OK
    assert evaluate([*idle_then_busy, Sample(NOW + 5, 7, 8)], None) is Status.STALL  # then it stood still, behind
