"""Applying incident events: declare, update, resolve, reopen, notes. Each returns the update to fan out, if any."""

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broadcaster.domain.events import (
    CadenceChanged,
    HoldingUpdateDue,
    IncidentDeclared,
    IncidentEvent,
    IncidentNoted,
    IncidentReopened,
    IncidentResolved,
    IncidentUpdated,
    UpdatePublished,
)
from broadcaster.domain.incidents import (
    HOLDING_MESSAGE,
    IncidentError,
    Status,
    UpdateKind,
    holding_cadence,
    next_update_due,
)
from broadcaster.linking.matcher import Outcome, ReportText
from broadcaster.services import notes
from broadcaster.services.cadence import holding_in_a_row
from broadcaster.services.linking import LinkingModel
from broadcaster.services.subscriptions import Link, link_reports
from broadcaster.storage.models import Incident, IncidentUpdate, Report


def apply_incident_event(
    session: Session, event: IncidentEvent, *, now: datetime, model: LinkingModel
) -> UpdatePublished | None:
    """Record the event once (by event id) and return the update its subscribers must get, if any."""
    already = session.scalars(
        select(IncidentUpdate).where(IncidentUpdate.event_id == event.event_id)
    ).one_or_none()
    if already is not None:
        return UpdatePublished(already.incident_id, already.id)
    update: IncidentUpdate | None = None
    match event:
        case IncidentDeclared():
            update = _declare(session, event, now, model)
        case IncidentUpdated():
            update = _progress(session, event, now)
        case IncidentResolved():
            update = _resolve(session, event, now)
        case IncidentReopened():
            update = _reopen(session, event, now)
        case HoldingUpdateDue():
            update = _holding(session, event, now, escalate_after=model.settings.holding_escalate_after)
        case CadenceChanged():
            _change_cadence(session, event)  # subscribers hear of the new promise with the next update
        case IncidentNoted():
            notes.keep(session, event, now)  # internal: a holding update may quote it, nothing else sends it
    return UpdatePublished(update.incident_id, update.id) if update else None


def _declare(session: Session, event: IncidentDeclared, now: datetime, model: LinkingModel) -> IncidentUpdate:
    if session.get(Incident, event.incident_id) is not None:
        raise IncidentError(f"{event.incident_id} was already declared by another event")
    incident = Incident(
        id=event.incident_id,
        title=event.title,
        component=event.component,
        severity=event.severity,
        status=Status.INVESTIGATING,
        description=event.description,
        workaround=event.workaround,
        how_to_verify="",
        match_phrases=list(event.match),
        declared_at=event.occurred_at,
        next_update_at=event.next_update_at,
        update_every_seconds=int((event.update_every or event.next_update_at - event.occurred_at).total_seconds()),
        holding_updates=event.holding_updates,
        owner_email=event.owner,
        private=event.private,
        communicator=event.communicator,
        second_owner_email=event.second_owner,
    )
    session.add(incident)
    update = _record(session, incident, event.event_id, UpdateKind.DECLARED, event.description, now)
    link_backlog(session, incident, model, since=event.occurred_at - model.settings.link_backlog_window, now=now)
    return update


def link_backlog(
    session: Session, incident: Incident, model: LinkingModel, *, since: datetime, now: datetime
) -> int:
    """Link the reports received since ``since`` that nobody linked and that describe this incident.

    They are scored against every candidate, not just the new incident, so a report
    that fits another incident as well goes to an engineer instead.
    """
    waiting = list(
        session.scalars(
            select(Report)
            .where(Report.link_state.in_(["unlinked", "suggested"]), Report.received_at >= since)
            .order_by(Report.received_at)
        )
    )
    model.sync(session, now)
    decisions = model.matcher.decide_many([ReportText(r.text, r.component, r.received_at) for r in waiting],
                                          observe=False)
    links = []
    for report, decision in zip(waiting, decisions, strict=True):
        if decision.incident_id != incident.id:
            continue
        if decision.outcome is Outcome.LINKED:
            links.append(Link(report, incident.id))
        elif decision.outcome is Outcome.SUGGESTED:
            report.link_state, report.candidate_incident_id = "suggested", incident.id
        report.link_score = decision.score
    link_reports(session, links, now)
    model.matcher.learn_many([(incident.id, link.report.text) for link in links])
    return len(links)


def _open_incident(session: Session, incident_id: str, action: str) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise IncidentError(f"cannot {action} {incident_id}: no such incident was declared")
    if incident.status == Status.RESOLVED:
        raise IncidentError(f"cannot {action} {incident_id}: it was resolved at {incident.resolved_at}")
    return incident


def _progress(session: Session, event: IncidentUpdated, now: datetime) -> IncidentUpdate:
    incident = _open_incident(session, event.incident_id, "update")
    if event.status:
        incident.status = Status(event.status)
    incident.next_update_at = event.next_update_at
    return _record(session, incident, event.event_id, UpdateKind.PROGRESS, event.message, now)


def _holding(session: Session, event: HoldingUpdateDue, now: datetime, *, escalate_after: int) -> IncidentUpdate | None:
    """Tell subscribers there is no news yet, unless the promise was kept or moved meanwhile.

    Never twice in one cadence period: a holding update that would follow the last one
    sooner than that moves the promise instead. After ``escalate_after`` in a row the next
    promise lies twice as far (the email says it is taking longer than hoped).
    """
    incident = session.get(Incident, event.incident_id)
    if incident is None or incident.status == Status.RESOLVED or not incident.holding_updates:
        return None
    if incident.next_update_at != event.missed_promise_at:
        return None
    cadence = timedelta(seconds=incident.update_every_seconds)
    last = _last_holding_at(session, incident.id)
    if last is not None and now - last < cadence:
        incident.next_update_at = next_update_due(last, cadence)
        return None
    stretch = holding_cadence(cadence, holding_in_a_row(session, incident.id) + 1, escalate_after)
    incident.next_update_at = next_update_due(now, stretch)
    return _record(session, incident, event.event_id, UpdateKind.HOLDING, HOLDING_MESSAGE, now)


def _last_holding_at(session: Session, incident_id: str) -> datetime | None:
    return session.scalar(select(func.max(IncidentUpdate.created_at)).where(
        IncidentUpdate.incident_id == incident_id, IncidentUpdate.kind == UpdateKind.HOLDING))


def _change_cadence(session: Session, event: CadenceChanged) -> None:
    incident = _open_incident(session, event.incident_id, "change the cadence of")
    if event.update_every is not None:
        incident.update_every_seconds = int(event.update_every.total_seconds())
    if event.next_update_at is not None:
        incident.next_update_at = event.next_update_at
    if event.holding_updates is not None:
        incident.holding_updates = event.holding_updates


def _resolve(session: Session, event: IncidentResolved, now: datetime) -> IncidentUpdate:
    incident = _open_incident(session, event.incident_id, "resolve")
    incident.status = Status.RESOLVED
    incident.resolved_at = event.occurred_at
    incident.how_to_verify = event.how_to_verify
    incident.next_update_at = None
    return _record(session, incident, event.event_id, UpdateKind.RESOLUTION, event.message, now)


def _reopen(session: Session, event: IncidentReopened, now: datetime) -> IncidentUpdate:
    """Open a resolved incident again; its update tells every subscriber, late reporters too, that it is not fixed."""
    incident = session.get(Incident, event.incident_id)
    if incident is None:
        raise IncidentError(f"cannot reopen {event.incident_id}: no such incident was declared")
    if incident.status != Status.RESOLVED:
        raise IncidentError(f"cannot reopen {event.incident_id}: it is not resolved (it is {incident.status})")
    incident.status = Status(event.status)
    incident.resolved_at = None
    incident.next_update_at = event.next_update_at
    return _record(session, incident, event.event_id, UpdateKind.REOPENED, event.message, now)


def _record(
    session: Session,
    incident: Incident,
    event_id: str,
    kind: UpdateKind,
    message: str,
    now: datetime,
) -> IncidentUpdate:
    update = IncidentUpdate(
        event_id=event_id,
        incident_id=incident.id,
        kind=kind,
        status=incident.status,
        message=message,
        created_at=now,
        next_update_at=incident.next_update_at,
    )
    session.add(update)
    session.flush()
    return update
