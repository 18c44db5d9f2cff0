"""Burrow's consumer evaluation rules over a sliding window of lag samples, one partition at a time.

A sample is (time, committed offset, log-end offset). The rules, in order:
- OK when the latest sample has no lag: an idle, caught-up group is fine, not stopped.
- REWIND when a committed offset went backwards within the window.
- STOP when there is lag and the committed offset has not moved for the whole window,
  and the group has no active members (it stopped committing).
- STALL when there is lag, members are there, and the committed offset has not moved
  for the whole window (it commits, or polls, but makes no progress).
- WARN when the lag grew at every sample of the window (at least three) although the
  consumer moves: it is falling behind.
- OK otherwise.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum


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

    @property
    def lag(self) -> int | None:
        return None if self.committed is None else max(0, self.end - self.committed)


MIN_SAMPLES_FOR_TREND = 3


def evaluate(window: Sequence[Sample], members_active: bool | None) -> Status:
    """The status of one partition, from its samples oldest first."""
    if not window or window[-1].committed is None or window[-1].lag == 0:
        return Status.OK
    commits = [s.committed for s in window if s.committed is not None]
    if any(later < earlier for earlier, later in zip(commits, commits[1:], strict=False)):
        return Status.REWIND
    if len(window) >= 2 and len(set(commits)) == 1:
        return Status.STOP if members_active is False else Status.STALL
    lags = [s.lag for s in window if s.lag is not None]
    if len(lags) >= MIN_SAMPLES_FOR_TREND and all(b > a for a, b in zip(lags, lags[1:], strict=False)):
        return Status.WARN
    return Status.OK
