"""Times as the reader would write them: their zone, their conventions, the zone always named.

The emails are written in English, so day and month names are English; what the
reader's locale decides is the order of day and month and the 12- or 24-hour clock
(``en_US``: "Thursday, November 26 at 5:15 AM"; ``pt_BR``: "Thursday 26 November at
05:15"). Babel holds those conventions (CLDR) for every locale; zone names and offsets
come from the IANA database through ``zoneinfo``.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

from broadcaster.domain.incidents import round_up

UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu", "Universal", "Etc/Universal"})


@dataclass(frozen=True)
class ReaderTime:
    """Where and how one reader reads times; ``own`` when they told us their zone (else a configured default)."""

    time_zone: str = "UTC"
    locale: str = "en_GB"
    own: bool = False


@cache
def _patterns(locale: str) -> tuple[str, str]:
    """(date pattern, time pattern) in English words with ``locale``'s order of day and month and its clock."""
    from babel import Locale

    conventions = Locale.parse(locale)
    month_day = conventions.datetime_skeletons["MMMMd"].pattern
    day_first = month_day.find("d") < month_day.find("M")
    twelve_hour = "h" in conventions.time_formats["short"].pattern
    date = "EEEE d MMMM" if day_first else "EEEE, MMMM d"
    return date, "h:mm a" if twelve_hour else "HH:mm"


def offset_label(moment: datetime, zone: ZoneInfo) -> str:
    """``UTC+8``, ``UTC-3``, ``UTC+5:30``: the offset at that moment (summer time included)."""
    offset = moment.astimezone(zone).utcoffset() or timedelta()
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


@cache
def _city(time_zone: str) -> str | None:
    from babel.dates import get_timezone_location

    city = get_timezone_location(ZoneInfo(time_zone), locale="en", return_city=True)
    return None if city.startswith(("GMT", "UTC")) else city


def zone_label(moment: datetime, reader: ReaderTime) -> str:
    """``UTC``, ``your time (Manila, UTC+8)``, or for a default zone ``London time (UTC+0)``."""
    if reader.time_zone in UTC_NAMES:
        return "UTC"
    zone = ZoneInfo(reader.time_zone)
    city, offset = _city(reader.time_zone), offset_label(moment, zone)
    if reader.own:
        return f"your time ({city}, {offset})" if city else f"your time ({offset})"
    return f"{city} time ({offset})" if city else offset


def when(moment: datetime, reader: ReaderTime = ReaderTime()) -> str:
    """``Thursday 26 November at 05:15 your time (Manila, UTC+8)``: the day, the time and whose time it is.

    Remembered per minute, zone and locale: the readers of one fan-out share a few zones
    and locales, reporters who wrote within the same minute share the words, and Babel's
    formatting (40 µs) was the largest part of composing a page of a thousand emails and,
    at a thousand reports a second, of the acknowledgements. Offsets change on whole
    minutes, so the minute's first second is on the same side of every change.
    """
    return _minute(moment.replace(second=0, microsecond=0), reader)


@lru_cache(maxsize=4096)
def _minute(moment: datetime, reader: ReaderTime) -> str:
    from babel.dates import format_datetime

    date, clock = _patterns(reader.locale)
    local = moment.astimezone(ZoneInfo(reader.time_zone))
    written = format_datetime(local, f"{date}' at '{clock}", locale="en").replace("\u202f", " ")
    return f"{written} {zone_label(moment, reader)}"


def clock_time(moment: datetime, reader: ReaderTime = ReaderTime()) -> str:
    """``10:32 UTC`` or ``5:32 AM your time (Manila, UTC+8)``: a time of day the reader wrote (for "thank you
    for the follow-up at ..."), its zone named like every other time in the email."""
    from babel.dates import format_datetime

    local = moment.astimezone(ZoneInfo(reader.time_zone))
    written = format_datetime(local, _patterns(reader.locale)[1], locale="en").replace("\u202f", " ")
    return f"{written} {zone_label(moment, reader)}"


def promise(stored: datetime, now: datetime, minimum: timedelta) -> datetime:
    """The promise an email may make: the stored one, unless it is due within ``minimum`` of now.

    A reporter acknowledged at 19:41 for an update whose promise is 19:45 is told a time at
    least ``minimum`` away, rounded up to the quarter hour, never a time already gone.
    """
    return max(stored, round_up(now + minimum))


def spoken_duration(delta: timedelta) -> str:
    """``45 minutes``, ``about 3 hours``, ``about 2 days``: how long, as a person would say it."""
    minutes = max(1, round(delta.total_seconds() / 60))
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = round(minutes / 60)
    if hours < 36:
        return "about an hour" if hours == 1 else f"about {hours} hours"
    return f"about {round(hours / 24)} days"
