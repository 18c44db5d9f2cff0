"""The incident lifecycle: identifiers, states and the promise of the next update."""

import math
import secrets
from datetime import UTC, datetime, timedelta
from enum import StrEnum

_ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud on calls


class Status(StrEnum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


OPEN_STATUSES = (Status.INVESTIGATING, Status.IDENTIFIED, Status.MONITORING)


class UpdateKind(StrEnum):
    DECLARED = "declared"
    PROGRESS = "progress"
    HOLDING = "holding"
    RESOLUTION = "resolution"
    REOPENED = "reopened"


class IncidentError(Exception):
    """A request about an incident that its current state does not allow."""


def new_incident_id(now: datetime) -> str:
    """``INC-261124-7KQ4``: sortable by day, short enough to say on a call."""
    suffix = "".join(secrets.choice(_ID_ALPHABET) for _ in range(4))
    return f"INC-{now:%y%m%d}-{suffix}"


PROMISE_STEP = timedelta(minutes=15)


def round_up(moment: datetime, step: timedelta = PROMISE_STEP) -> datetime:
    """The first multiple of ``step`` (counted from midnight UTC) at or after ``moment``: 10:01 becomes 10:15.

    Promises are kept at times a person would write; a quarter hour is one in every zone
    the world uses (offsets are whole quarter hours).
    """
    seconds = step.total_seconds()
    return datetime.fromtimestamp(math.ceil(moment.astimezone(UTC).timestamp() / seconds) * seconds, UTC)


def next_update_due(now: datetime, cadence: timedelta) -> datetime:
    """The next promise: ``cadence`` from now, rounded up to the quarter hour."""
    return round_up(now + cadence)


def holding_cadence(cadence: timedelta, in_a_row: int, escalate_after: int) -> timedelta:
    """How far the promise after a holding update lies: twice the cadence once it is taking longer than hoped.

    After ``escalate_after`` holding updates in a row, promising news at the old rate would
    only bring another "no news yet"; a later promise that is kept is the honest one.
    """
    return cadence * 2 if in_a_row >= escalate_after else cadence


def status_label(status: str) -> str:
    """How a state reads in a subject line: ``Investigating``, ``Resolved``."""
    return Status(status).value.capitalize()


_SEVERITY_WORDS = {
    "sev1": "Critical: many people cannot use the product",
    "sev2": "Major: an important part of the product is not working",
    "sev3": "Minor: a part of the product works badly or for some people only",
    "sev4": "Low: an inconvenience with an easy way around it",
}


def severity_words(severity: str) -> str:
    """A severity as the people affected understand it, on the incident's page."""
    return _SEVERITY_WORDS.get(severity, severity)


HOLDING_MESSAGE = "No news yet: we are still working on it."
REOPEN_MESSAGE = "Our engineers are looking into it again now."
REOPEN_STATUSES = (Status.INVESTIGATING, Status.IDENTIFIED)


def holding_event_id(incident_id: str, promise_at: datetime) -> str:
    """One id per missed promise, so a holding update is applied once however often it is requested."""
    return f"holding-{incident_id}-{int(promise_at.timestamp())}"
