"""Receiving a bug report: store it, link it, and say who must hear back."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from broadcaster.domain.events import BugReportReceived
from broadcaster.domain.incidents import OPEN_STATUSES, Status
from broadcaster.domain.linking import Candidate, best_match
from broadcaster.domain.notifications import kind_for_new_subscriber
from broadcaster.services.subscriptions import (
    has_deliveries,
    latest_update,
    link_report,
    queue_delivery,
    queued_for,
)
from broadcaster.storage.models import Incident, Report


class Outcome(StrEnum):
    LINKED = "linked"
    FIXED_REPLY = "fixed_reply"
    UNLINKED = "unlinked"


@dataclass(frozen=True)
class ReportResult:
    outcome: Outcome
    incident_id: str | None = None
    delivery_ids: list[int] = field(default_factory=list)


def candidates(session: Session, now: datetime, resolved_window: timedelta) -> list[Candidate]:
    """Open incidents, and those resolved recently enough that a late report is about them."""
    rows = session.scalars(
        select(Incident).where(
            or_(
                Incident.status.in_([status.value for status in OPEN_STATUSES]),
                Incident.resolved_at >= now - resolved_window,
            )
        )
    )
    return [as_candidate(incident) for incident in rows]


def as_candidate(incident: Incident) -> Candidate:
    return Candidate(
        incident_id=incident.id,
        title=incident.title,
        component=incident.component,
        phrases=tuple(incident.match_phrases or ()),
        is_open=incident.status != Status.RESOLVED,
        declared_at=incident.declared_at,
        resolved_at=incident.resolved_at,
    )


def _store(session: Session, event: BugReportReceived) -> Report:
    report = session.get(Report, event.report_id)
    if report is None:
        report = Report(
            id=event.report_id,
            email=event.email,
            name=event.name,
            text=event.text,
            component=event.component,
            source=event.source,
            received_at=event.received_at,
        )
        session.add(report)
        session.flush()
    return report


def _match(session: Session, report: Report, now: datetime, window: timedelta) -> str | None:
    match = best_match(report.text, report.component, candidates(session, now, window))
    return match.candidate.incident_id if match else None


def receive_report(
    session: Session, event: BugReportReceived, *, now: datetime, resolved_window: timedelta
) -> ReportResult:
    """Idempotent: a redelivered report changes nothing and re-announces what is still queued."""
    report = _store(session, event)
    incident_id = report.incident_id or _match(session, report, now, resolved_window)
    if incident_id is None:
        return ReportResult(Outcome.UNLINKED)
    subscriber = link_report(session, report, incident_id, now)
    is_open = session.get_one(Incident, incident_id).status != Status.RESOLVED
    if not has_deliveries(session, subscriber):
        update = latest_update(session, incident_id)
        queue_delivery(session, update, subscriber, kind_for_new_subscriber(is_open), now)
    outcome = Outcome.LINKED if is_open else Outcome.FIXED_REPLY
    return ReportResult(outcome, incident_id, queued_for(session, subscriber))
