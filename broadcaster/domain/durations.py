"""Human durations such as ``90m``, ``2h`` or ``3d``, as engineers type them on the CLI."""

import re
from datetime import timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


class InvalidDuration(ValueError):
    pass


def parse_duration(text: str) -> timedelta:
    """Parse ``"2h"``, ``"1h30m"`` or ``"45 m"`` into a timedelta; reject anything else."""
    compact = text.strip().lower()
    parts = _PART.findall(compact)
    if not parts or _PART.sub("", compact).strip():
        raise InvalidDuration(
            f"{text!r} is not a duration; write it like 30m, 2h, 1h30m or 3d"
        )
    total = timedelta()
    for amount, unit in parts:
        total += timedelta(**{_UNITS[unit]: float(amount)})
    if total <= timedelta():
        raise InvalidDuration(f"{text!r} must be longer than zero")
    return total


def format_duration(delta: timedelta) -> str:
    """The inverse of :func:`parse_duration`, for messages and settings listings."""
    seconds = int(delta.total_seconds())
    pieces = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            pieces.append(f"{count}{unit}")
    return "".join(pieces) or "0s"
