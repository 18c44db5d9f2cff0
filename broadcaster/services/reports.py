"""Receiving a bug report: store it, let the matcher decide, and say who must hear back."""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from broadcaster.domain.events import BugReportReceived
from broadcaster.domain.incidents import Status
from broadcaster.domain.notifications import kind_for_new_subscriber
from broadcaster.linking.matcher import Outcome as Decided
from broadcaster.services.early_warning import check_for_pile_up
from broadcaster.services.linking import LinkingModel
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
    SUGGESTED = "suggested"
    UNLINKED = "unlinked"


@dataclass(frozen=True)
class ReportResult:
    outcome: Outcome
    incident_id: str | None = None
    delivery_ids: list[int] = field(default_factory=list)
    suspicion_id: int | None = None


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
            link_state="unlinked",
        )
        session.add(report)
        session.flush()
    return report


def subscribe_reporter(
    session: Session, report: Report, incident_id: str, now: datetime, linked_by: str
) -> ReportResult:
    """Link the report, subscribe its reporter and queue what they must hear (idempotent)."""
    subscriber = link_report(session, report, incident_id, now, linked_by)
    is_open = session.get_one(Incident, incident_id).status != Status.RESOLVED
    if not has_deliveries(session, subscriber):
        update = latest_update(session, incident_id)
        queue_delivery(session, update, subscriber, kind_for_new_subscriber(is_open), now)
    outcome = Outcome.LINKED if is_open else Outcome.FIXED_REPLY
    return ReportResult(outcome, incident_id, queued_for(session, subscriber))


def receive_report(
    session: Session, event: BugReportReceived, *, now: datetime, model: LinkingModel
) -> ReportResult:
    """Idempotent: a redelivered report changes nothing and re-announces what is still queued."""
    report = _store(session, event)
    if report.link_state == Outcome.LINKED and report.incident_id:
        return subscribe_reporter(session, report, report.incident_id, now, report.linked_by or "matcher")
    decision = model.decide(session, report, now)
    report.link_score = decision.score
    if decision.outcome is Decided.LINKED and decision.incident_id:
        model.matcher.learn(decision.incident_id, report.text)
        return subscribe_reporter(session, report, decision.incident_id, now, "matcher")
    report.link_state = decision.outcome.value
    report.candidate_incident_id = decision.incident_id
    if decision.outcome is Decided.SUGGESTED:
        return ReportResult(Outcome.SUGGESTED, decision.incident_id)
    suspicion = check_for_pile_up(session, report, model, now)
    return ReportResult(Outcome.UNLINKED, suspicion_id=suspicion.id if suspicion else None)
