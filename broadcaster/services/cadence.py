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
    second_owner_email: str | None = None  # set once subscribers have had holding updates enough in a row
    holding_in_a_row: int = 0


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


def due_work(session: Session, now: datetime, *, lead: timedelta, grace: timedelta, escalate_after: int = 2) -> DueWork:
    """Reminders to send now (each recorded, so once per promise) and holding updates to request.

    Once subscribers have had ``escalate_after`` holding updates in a row, the reminder
    goes to the incident's second owner (the owner's manager) as well.
    """
    reminders, holding = [], []
    for incident in open_with_promises(session):
        promise = incident.next_update_at
        if promise is None or now < promise - lead:
            continue
        if _first_reminder(session, incident.id, promise, now):
            in_a_row = holding_in_a_row(session, incident.id)
            second = incident.second_owner_email if in_a_row >= escalate_after else None
            reminders.append(Reminder(incident.id, incident.title, incident.owner_email, promise, second, in_a_row))
        if incident.holding_updates and now >= promise + grace:
            holding.append(HoldingUpdateDue(holding_event_id(incident.id, promise), incident.id, now, promise))
    return DueWork(reminders, holding)


def _first_reminder(session: Session, incident_id: str, promise: datetime, now: datetime) -> bool:
    """Record the reminder for this promise; True only the first time (the unique key decides)."""
    row = {"incident_id": incident_id, "promise_at": promise, "reminded_at": now}
    return insert_ignoring_duplicates(session, OwnerReminder, [row], unique=("incident_id", "promise_at")) == 1


def holding_in_a_row(session: Session, incident_id: str) -> int:
    """Holding updates since the incident's last news (its declaration or a progress update)."""
    last_news = (select(func.max(IncidentUpdate.id))
                 .where(IncidentUpdate.incident_id == incident_id, IncidentUpdate.kind != "holding").scalar_subquery())
    query = select(func.count()).where(IncidentUpdate.incident_id == incident_id, IncidentUpdate.kind == "holding",
                                       IncidentUpdate.id > func.coalesce(last_news, 0))
    return session.scalar(query) or 0


def missed_promises(session: Session, incident_id: str) -> int:
    """How many times subscribers got a holding update because a promise was missed."""
    query = select(func.count()).where(IncidentUpdate.incident_id == incident_id, IncidentUpdate.kind == "holding")
    return session.scalar(query) or 0
