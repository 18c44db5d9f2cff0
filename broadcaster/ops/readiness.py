"""Is a worker ready to do its work? Judged from what its Kafka consumer knows (streams/health.py reads it).

A worker answering ready must be able to read its topics: it holds partitions, it is
connected to a broker, and fetches get answers. The embedded broker cannot describe
consumer groups, so the worker saying this about itself is the only place it is known.
"""

from dataclasses import dataclass

FETCH_SILENCE_SECONDS = 30.0
"""An assigned consumer fetches without pause (an empty fetch returns after at most the fetch
wait, 1.5 s on a cluster), so a fetch unanswered this long means the broker does not answer."""


@dataclass(frozen=True)
class ConsumerState:
    started: bool
    rebalancing: bool
    assigned: int  # partitions assigned to this worker
    connected_brokers: int  # open connections to brokers
    last_fetch_at: float | None  # epoch seconds of the newest fetch answer, any partition; None: none yet


def kafka_problems(state: ConsumerState, now: float, silence: float = FETCH_SILENCE_SECONDS) -> list[str]:
    """Why the worker cannot read its topics; empty when it can."""
    if not state.started:
        return ["kafka: the consumer has not started"]
    problems = []
    if state.rebalancing:
        problems.append("kafka: rebalancing")
    if state.connected_brokers == 0:
        problems.append("kafka: no connection to any broker")
    if state.assigned == 0:
        problems.append("kafka: no partitions assigned (more workers than partitions, or the group join failed)")
    if state.last_fetch_at is not None and now - state.last_fetch_at > silence:
        problems.append(f"kafka: no fetch answered for {now - state.last_fetch_at:.0f} s")
    return problems
