"""Keeping the promise of the next update: reminders before it falls due, holding updates after.

Run by a timer on one worker (the Faust leader). Everything it decides is keyed by the
promise it is about (incident id and promised time), so running it again, on any
worker, after any restart, never reminds or holds twice for the same promise.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broadcaster.domain.events import HoldingUpdateDue
from broadcaster.domain.incidents import OPEN_STATUSES, holding_event_id
from broadcaster.storage.models import Incident, IncidentUpdate, OwnerReminder
from broadcaster.storage.upsert import insert_ignoring_duplicates


@dataclass(frozen=True)
class Reminder:
    incident_id: str
    title: str
    owner_email: str | None
    promise_at: datetime


@dataclass(frozen=True)
class DueWork:
    reminders: list[Reminder]
    holding: list[HoldingUpdateDue]


def open_with_promises(session: Session) -> list[Incident]:
    return list(
        session.scalars(
            select(Incident)
            .where(Incident.status.in_([s.value for s in OPEN_STATUSES]), Incident.next_update_at.is_not(None))
            .order_by(Incident.next_update_at)
        )
    )


def due_work(session: Session, now: datetime, *, lead: timedelta, grace: timedelta) -> DueWork:
    """Reminders to send now (each recorded, so once per promise) and holding updates to request."""
    reminders, holding = [], []
    for incident in open_with_promises(session):
        promise = incident.next_update_at
        if promise is None or now < promise - lead:
            continue
        if _first_reminder(session, incident.id, promise, now):
            reminders.append(Reminder(incident.id, incident.title, incident.owner_email, promise))
        if incident.holding_updates and now >= promise + grace:
            holding.append(HoldingUpdateDue(holding_event_id(incident.id, promise), incident.id, now, promise))
    return DueWork(reminders, holding)


def _first_reminder(session: Session, incident_id: str, promise: datetime, now: datetime) -> bool:
    """Record the reminder for this promise; True only the first time (the unique key decides)."""
    row = {"incident_id": incident_id, "promise_at": promise, "reminded_at": now}
    return insert_ignoring_duplicates(session, OwnerReminder, [row], unique=("incident_id", "promise_at")) == 1


def missed_promises(session: Session, incident_id: str) -> int:
    """How many times subscribers got a holding update because a promise was missed."""
    query = select(func.count()).where(IncidentUpdate.incident_id == incident_id, IncidentUpdate.kind == "holding")
    return session.scalar(query) or 0
