"""The lag report: samples kept over a sliding window, evaluated per partition and group.

The window lives in ``{state_dir}/lag-window.json`` so that separate invocations (a
monitoring check every minute) see the trend; ``--watch`` keeps adding to it.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import takewhile
from pathlib import Path
from typing import Any

from broadcaster.kafka.lag import GroupLag, PartitionLag
from broadcaster.ops.lag_status import STALL_AFTER_SECONDS, Sample, Status, evaluate

MAX_SAMPLES = 30


@dataclass(frozen=True)
class PartitionReport:
    lag: PartitionLag
    status: Status
    lag_seconds: float | None
    estimated: bool
    waiting_seconds: float | None  # how long its oldest waiting message waited with no commit seen; None: no lag


def _key(row: PartitionLag) -> str:
    return f"{row.topic}:{row.partition}"


class Window:
    def __init__(self, path: Path, seconds: float) -> None:
        self.path, self.seconds = path, seconds
        self._samples: dict[str, dict[str, list[list]]] = json.loads(path.read_text()) if path.exists() else {}

    def add(self, lag: GroupLag) -> dict[str, list[Sample]]:
        group = self._samples.setdefault(lag.group, {})
        for row in lag.partitions:
            kept = [s for s in group.get(_key(row), []) if s[0] >= lag.read_at - self.seconds]
            group[_key(row)] = (kept + [[lag.read_at, row.committed, row.end, row.start]])[-MAX_SAMPLES:]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self._samples))
        return {key: [Sample(*s) for s in samples] for key, samples in group.items()}


def _estimate_seconds(row: PartitionLag, samples: list[Sample]) -> float | None:
    """Lag divided by the produce rate seen over the window, when there is a rate to see."""
    if len(samples) < 2 or not row.lag:
        return None
    elapsed = samples[-1].at - samples[0].at
    produced = samples[-1].end - samples[0].end
    return row.lag / (produced / elapsed) if elapsed > 0 and produced > 0 else None


def waiting_seconds(row: PartitionLag, window: list[Sample], now: float) -> float | None:
    """How long the partition's oldest waiting message has waited with no commit seen since; None without lag.

    Its timestamp says how long it has waited; a commit seen to move in the window since
    then restarts the count, as the group was getting somewhere. Without a timestamp, the
    window alone says how long the committed offset has stood still.
    """
    if row.lag == 0:
        return None
    still = list(takewhile(lambda s: s.committed == row.committed, reversed(window)))
    still_since = still[-1].at if still else now
    if row.oldest_unprocessed_at is None:
        return max(0.0, now - still_since)
    moved_seen = len(still) < len(window)
    return max(0.0, now - (max(row.oldest_unprocessed_at, still_since) if moved_seen else row.oldest_unprocessed_at))


def evaluate_group(lag: GroupLag, samples: dict[str, list[Sample]], stall_after: float = STALL_AFTER_SECONDS
                   ) -> list[PartitionReport]:
    reports = []
    for row in lag.partitions:
        window = samples.get(_key(row), [])
        seconds, estimated = row.lag_seconds(lag.read_at), False
        if seconds is None:
            seconds, estimated = _estimate_seconds(row, window), True
        waited = waiting_seconds(row, window, lag.read_at)
        status = evaluate(window, lag.members_active, waiting_seconds=waited, stall_after=stall_after)
        reports.append(PartitionReport(row, status, seconds, estimated, waited))
    return reports


def group_status(reports: list[PartitionReport]) -> Status:
    return max((r.status for r in reports), default=Status.OK)


def as_json(lag: GroupLag, reports: list[PartitionReport]) -> dict[str, Any]:
    lags = [r.lag.lag for r in reports]
    seconds = [r.lag_seconds for r in reports if r.lag_seconds is not None]
    return {
        "group": lag.group,
        "status": group_status(reports).name,
        "members_active": lag.members_active,
        "lag_messages": sum(lags),
        "lag_seconds": max(seconds, default=0.0),
        "partitions": [
            {
                "topic": r.lag.topic, "partition": r.lag.partition, "committed": r.lag.committed,
                "start": r.lag.start, "end": r.lag.end, "listed_end": r.lag.listed_end, "lag": r.lag.lag,
                "lag_seconds": None if r.lag_seconds is None else round(r.lag_seconds, 3),
                "lag_seconds_estimated": r.estimated and r.lag_seconds is not None,
                "status": r.status.name, "note": _note(r.lag),
            }
            for r in reports
        ],
    }


def _note(row: PartitionLag) -> str | None:
    if row.committed is None and row.lag:
        return f"no committed offset: lag counted from the log start ({row.start}), where the group begins"
    if row.offsets_disagree:
        return f"broker offsets disagree: ListOffsets says {row.listed_end}, fetch high-water {row.end}; using high-water"
    return None


def report_time(read_at: float) -> str:
    return datetime.fromtimestamp(read_at, UTC).isoformat().replace("+00:00", "Z")
