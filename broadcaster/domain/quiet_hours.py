"""Quiet hours: the part of a reader's night in which a holding update ("no news yet") waits for morning.

Only holding updates keep quiet: news (progress, a fix) is worth waking up to, and the
reader asked for it by reporting the problem.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

_RANGE = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-3]):([0-5]\d)\s*$")


@dataclass(frozen=True)
class QuietHours:
    start: float  # hours since local midnight, e.g. 22.0
    end: float  # e.g. 7.0; may be earlier than start (across midnight)

    @classmethod
    def parse(cls, text: str) -> "QuietHours":
        """``22:00-07:00``; raises ValueError naming the form it wants."""
        found = _RANGE.match(text)
        if not found:
            raise ValueError("quiet hours are written like 22:00-07:00 (local time: from, to)")
        start_h, start_m, end_h, end_m = (int(part) for part in found.groups())
        return cls(start_h + start_m / 60, end_h + end_m / 60)

    def contains(self, moment: datetime, time_zone: str) -> bool:
        """Whether ``moment`` falls within these hours in ``time_zone``."""
        local = moment.astimezone(ZoneInfo(time_zone))
        hour = local.hour + local.minute / 60
        if self.start <= self.end:
            return self.start <= hour < self.end
        return hour >= self.start or hour < self.end
