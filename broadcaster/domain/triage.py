"""The triage promise: a report nobody could link waits for a person, and is told until when.

A report the matcher only suggested, or could not link at all, waits in triage. From the
moment it gets there it carries a promise (``BROADCASTER_TRIAGE_WITHIN``, 2 h by default):
by then an engineer links it to an incident (its reporter is acknowledged) or closes it
(someone answered the reporter directly). Its owner is reminded shortly before the
promise falls due and once when it is overdue.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

WAITING_STATES = ("suggested", "unlinked")  # link states of reports that wait for a person
CLOSED = "closed"  # an engineer closed it: answered outside Broadcaster, or it needs no answer


class ReminderStage(StrEnum):
    """When the triage owner hears of a waiting report: shortly before its promise, and once it is missed."""

    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class WaitingReport:
    """A report in triage, as the triage list and the owner's reminder show it."""

    report_id: str
    email: str
    text: str
    received_at: datetime
    due: datetime | None  # None: it was waiting before promises were made (migration 0014)
    link_state: str
    candidate_incident_id: str | None = None
    link_score: float | None = None


def promised_by(entered_triage_at: datetime, within: timedelta) -> datetime:
    """When a person will have looked at a report that entered triage at ``entered_triage_at``.

    Counted from when Broadcaster decided the report waits for a person (normally within a
    second of its ``received_at``), not from ``received_at``: a report that reached us late
    (an imported ticket, a broker outage) gets the whole window, so its receipt never
    promises a time already gone.
    """
    return entered_triage_at + within


def reminder_stage(due: datetime, now: datetime, lead: timedelta) -> ReminderStage | None:
    """Which reminder a report with this promise is due now, if any."""
    if now >= due:
        return ReminderStage.OVERDUE
    if now >= due - lead:
        return ReminderStage.DUE_SOON
    return None


def describe_wait(delta: timedelta) -> str:
    """``under a minute``, ``35 min``, ``3 h 5 min``, ``2 d 4 h``: a span as a person says it."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def due_label(due: datetime, now: datetime) -> str:
    """``overdue by 35 min`` or ``due in 1 h 20 min``."""
    return f"overdue by {describe_wait(now - due)}" if now >= due else f"due in {describe_wait(due - now)}"
