"""Grade an email line by line against what customers remember (../shared/seeds: Personalization,
Responsiveness, Empathy, Result): their name, their own words, an apology, what is known, what to do
meanwhile, a next promise in the future and in their time, a person's signature, how to check the fix, thanks.

Reads the plain-text part of a standard message, as the reader's mail client shows it.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import parseaddr, parsedate_to_datetime

CHECKS = ("name", "own words", "apology", "known", "meanwhile", "promise", "signed", "verify", "thanks")
_NEEDS_PROMISE = {"acknowledgement", "progress", "holding"}
_NEEDS_MEANWHILE = {"acknowledgement", "holding"}
_NEEDS_VERIFY = {"resolution", "fixed_reply"}
_KNOWN_MARKS = {"acknowledgement": "What we know:", "holding": "What the team is doing now:"}
_PROMISE = re.compile(
    r"again by (?P<day>\w+day),? (?P<date>\d{1,2} \w+|\w+ \d{1,2}) at (?P<time>\d{1,2}:\d{2})(?: (?P<half>[AP]M))? "
    r"(?P<zone>UTC|your time \((?:[^,()]+, )?UTC(?P<offset>[+-]\d{1,2}(?::\d{2})?)\))")


@dataclass(frozen=True)
class Reader:
    """What the checker knows of the person the email is for."""

    first_name: str
    report_text: str
    own_time_zone: bool  # they told us their zone: promises must say "your time"
    workaround: bool = True  # the incident has one to tell


@dataclass(frozen=True)
class Grade:
    recipient: str
    kind: str
    marks: dict[str, str]  # check -> "ok", "MISSING" or "-" (does not apply to this kind)

    @property
    def passed(self) -> bool:
        return "MISSING" not in self.marks.values()


def _text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    return part.get_content() if part is not None else ""


def _mark(applies: bool, found: bool) -> str:
    return "-" if not applies else ("ok" if found else "MISSING")


def promised_at(line: str, sent: datetime) -> datetime | None:
    """The UTC moment a promise line names, read as the reader would (the year: the email's)."""
    found = _PROMISE.search(line)
    if not found:
        return None
    date = found["date"].split()
    day, month = (date[0], date[1]) if date[0].isdigit() else (date[1], date[0])
    clock = datetime.strptime(f"{found['time']} {found['half'] or ''}".strip(), "%I:%M %p" if found["half"] else "%H:%M")
    hours, _, minutes = (found["offset"] or "+0").partition(":")
    sign = -1 if hours.startswith("-") else 1
    offset = timezone(sign * timedelta(hours=abs(int(hours)), minutes=int(minutes or 0)))
    local = datetime.strptime(f"{day} {month} {sent.year}", "%d %B %Y").replace(
        hour=clock.hour, minute=clock.minute, tzinfo=offset)
    return local.astimezone(UTC)


def grade(message: EmailMessage, reader: Reader) -> Grade:
    """Each check's mark for this email; a check that does not apply to its kind is "-"."""
    kind = str(message["X-Broadcaster-Kind"])
    lines = [line.strip() for line in _text(message).splitlines()]
    sent = parsedate_to_datetime(str(message["Date"]))
    from_name = parseaddr(str(message["From"]))[0]
    signer = from_name.split(" at ")[0] if " at " in from_name else ""
    words = " ".join(reader.report_text.split())[:40]
    promises = [promised_at(line, sent) for line in lines if "again by" in line]
    in_their_time = all(("your time (" in line) == reader.own_time_zone for line in lines if "again by" in line)
    verify_at = next((i for i, line in enumerate(lines) if line.startswith("How to check it yourself:")), None)
    known = _KNOWN_MARKS.get(kind)
    marks = {
        "name": _mark(True, f"Hi {reader.first_name}," in lines and any(
            line.endswith(f"{reader.first_name}.") or f", {reader.first_name}:" in line for line in lines[1:])),
        "own words": _mark(True, any(words in line for line in lines)),
        "apology": _mark(True, any("sorry" in line.lower() for line in lines)),
        "known": _mark(True, any(line.startswith(known) and len(line) > len(known) + 3 for line in lines) if known
                       else sum(1 for line in lines if len(line) > 40) >= 3),
        "meanwhile": _mark(kind in _NEEDS_MEANWHILE and reader.workaround,
                           any(line.startswith(("What you can do meanwhile:", "Until it is fixed:")) for line in lines)),
        "promise": _mark(kind in _NEEDS_PROMISE, bool(promises) and all(p is not None and p > sent for p in promises)
                         and in_their_time),
        "signed": _mark(True, bool(signer) and signer in lines),
        "verify": _mark(kind in _NEEDS_VERIFY, verify_at is not None and verify_at + 1 < len(lines)
                        and bool(lines[verify_at + 1])),
        "thanks": _mark(True, any(line.startswith("Thank you") or " Thank you for" in line for line in lines)),
    }
    return Grade(parseaddr(str(message["To"]))[1], kind, marks)


def table(grades: list[Grade]) -> list[str]:
    """The grades as a table to print, a row per email."""
    header = f"{'recipient':<20} {'kind':<16} " + " ".join(f"{check:<9}" for check in CHECKS)
    rows = [f"{g.recipient:<20} {g.kind:<16} " + " ".join(f"{g.marks[c]:<9}" for c in CHECKS) for g in grades]
    return [header, *rows]
