"""The incident lifecycle: identifiers, states and the promise of the next update."""

import secrets
from datetime import datetime, timedelta
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


def next_update_due(now: datetime, cadence: timedelta) -> datetime:
    return now + cadence


def status_label(status: str) -> str:
    """How a state reads in a subject line: ``Investigating``, ``Resolved``."""
    return Status(status).value.capitalize()


HOLDING_MESSAGE = "No news yet: we are still working on it."
REOPEN_MESSAGE = "Our engineers are looking into it again now."
REOPEN_STATUSES = (Status.INVESTIGATING, Status.IDENTIFIED)


def holding_event_id(incident_id: str, promise_at: datetime) -> str:
    """One id per missed promise, so a holding update is applied once however often it is requested."""
    return f"holding-{incident_id}-{int(promise_at.timestamp())}"
