"""Engineers' notes on an incident: kept with it, shown to engineers, never emailed by themselves.

A shareable note is the team's latest word for subscribers only through a holding update,
which quotes it as what the team is doing now when it is newer than the last progress update.
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.domain.events import IncidentNoted
from broadcaster.domain.incidents import IncidentError, Status
from broadcaster.storage.models import Incident, IncidentNote


def keep(session: Session, event: IncidentNoted, now: datetime) -> None:
    """Store the note once (by event id); a note on an unknown or resolved incident is refused."""
    if session.scalar(select(IncidentNote.id).where(IncidentNote.event_id == event.event_id)) is not None:
        return  # redelivered: kept already, even if the incident was resolved since
    incident = session.get(Incident, event.incident_id)
    if incident is None:
        raise IncidentError(f"cannot add a note to {event.incident_id}: no such incident was declared")
    if incident.status == Status.RESOLVED:
        raise IncidentError(f"cannot add a note to {event.incident_id}: it was resolved at {incident.resolved_at}")
    session.add(IncidentNote(event_id=event.event_id, incident_id=incident.id, message=event.message,
                             shareable=event.shareable, created_at=now))
    session.flush()


def of_incident(session: Session, incident_id: str) -> list[IncidentNote]:
    """Every note, oldest first, for ``incident show``."""
    return list(session.scalars(select(IncidentNote).where(IncidentNote.incident_id == incident_id)
                                .order_by(IncidentNote.created_at, IncidentNote.id)))


def latest_shared(session: Session, incident_id: str, until: datetime) -> IncidentNote | None:
    """The newest shareable note kept by ``until``: what a holding update written then may quote."""
    return session.scalars(
        select(IncidentNote)
        .where(IncidentNote.incident_id == incident_id, IncidentNote.shareable, IncidentNote.created_at <= until)
        .order_by(IncidentNote.created_at.desc(), IncidentNote.id.desc()).limit(1)
    ).first()
