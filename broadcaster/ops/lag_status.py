"""Burrow's consumer evaluation rules over a sliding window of lag samples, one partition at a time.

A sample is (time, committed offset, log-end offset, log start offset); a partition the
group never committed on lags from the log start, where the group will begin. The rules,
in order:
- OK when the latest sample has no lag: an idle, caught-up group is fine, not stopped.
- REWIND when a committed offset went backwards within the window.
- STOP when there is lag and the group has made no progress, and it has no active
  members (it stopped committing). No progress: the committed offset has not moved for
  the whole window, or the oldest waiting message has waited longer than ``stall_after``
  with no commit seen since (this one needs no history, so the first look after a worker
  died already tells).
- STALL when there is lag and no progress, and members are there or the broker cannot
  say which (it commits, or polls, but makes no progress; or nobody is there).
- WARN when the lag grew at every sample of the window (at least three) although the
  consumer moves: it is falling behind.
- OK otherwise.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from itertools import takewhile

from broadcaster.kafka.lag import next_offset


class Status(IntEnum):
    """Ordered by severity, so a group's status is the worst of its partitions'."""

    OK = 0
    WARN = 1
    STALL = 2
    STOP = 3
    REWIND = 4


@dataclass(frozen=True)
class Sample:
    at: float
    committed: int | None
    end: int
    start: int = 0  # log start offset; samples saved before it was recorded read as 0

    @property
    def lag(self) -> int:
        return max(0, self.end - next_offset(self.committed, self.start))


MIN_SAMPLES_FOR_TREND = 3
STALL_AFTER_SECONDS = 30.0
"""How long a message may wait with no commit before its partition counts as making no progress.
A working Faust worker commits every 2.8 s and handles a message in well under a second."""


def evaluate(window: Sequence[Sample], members_active: bool | None, *, waiting_seconds: float | None = None,
             stall_after: float = STALL_AFTER_SECONDS) -> Status:
    """The status of one partition, from its samples oldest first.

    ``waiting_seconds``: how long the oldest waiting message has waited with no commit seen since.
    """
    if not window or window[-1].lag == 0:
        return Status.OK
    commits = [s.committed for s in window if s.committed is not None]
    if any(later < earlier for earlier, later in zip(commits, commits[1:], strict=False)):
        return Status.REWIND
    # Only the looks since the partition last had nothing to read: a commit that stood still
    # while it was caught up is an idle consumer, not a stalled one (Burrow: a zero lag is OK).
    behind = list(takewhile(lambda s: s.lag > 0, reversed(window)))
    unmoved = len(behind) >= 2 and len({s.committed for s in behind}) == 1
    if unmoved or (waiting_seconds or 0.0) > stall_after:
        return Status.STOP if members_active is False else Status.STALL
    lags = [s.lag for s in window]
    if len(lags) >= MIN_SAMPLES_FOR_TREND and all(b > a for a, b in zip(lags, lags[1:], strict=False)):
        return Status.WARN
    return Status.OK
