"""Engineers' side of linking: what waits for a decision, and the decisions themselves.

A confirmation (or a link by hand) subscribes and acknowledges the reporter at once; a
rejection is remembered. Both are stored as feedback, which every worker's matcher
reads on its next decision. A rejected suggestion still waits for a person; a report
closed (its reporter answered directly) no longer does.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broadcaster.domain.triage import CLOSED
from broadcaster.services.reports import ReportResult, subscribe_reporters
from broadcaster.services.subscriptions import Link
from broadcaster.storage.models import Incident, LinkFeedback, Report, SuspectedIncident
from broadcaster.storage.upsert import insert_ignoring_duplicates

QUEUE_LIMIT = 50


class TriageError(Exception):
    pass


@dataclass(frozen=True)
class TriageQueue:
    suggested: list[Report]
    unlinked: list[Report]
    suspicions: list[SuspectedIncident]
    sizes: dict[int, int]  # how many reports each suspicion counts, by its id


def queue(session: Session, limit: int = QUEUE_LIMIT) -> TriageQueue:
    """What waits for a person, the most overdue first (reports older than promises last, newest first)."""
    def waiting(state: str) -> list[Report]:
        query = (select(Report).where(Report.link_state == state)
                 .order_by(Report.triage_due_at.asc().nulls_last(), Report.received_at.desc()).limit(limit))
        return list(session.scalars(query))

    suspicions = list(session.scalars(
        select(SuspectedIncident).where(SuspectedIncident.status == "open").order_by(SuspectedIncident.id)
    ))
    sizes = session.execute(select(Report.suspicion_id, func.count()).group_by(Report.suspicion_id)
                            .where(Report.suspicion_id.in_([s.id for s in suspicions])))
    return TriageQueue(waiting("suggested"), waiting("unlinked"), suspicions, {i: n for i, n in sizes if i is not None})


def _report(session: Session, report_id: str) -> Report:
    report = session.get(Report, report_id)
    if report is None:
        raise TriageError(f"no report {report_id}")
    if report.link_state == "linked":
        raise TriageError(f"report {report_id} is already linked to {report.incident_id}")
    return report


def close(session: Session, report_id: str) -> None:
    """Take ``report_id`` out of triage: someone answered its reporter directly, or it needs no answer."""
    report = _report(session, report_id)
    if report.link_state == CLOSED:
        raise TriageError(f"report {report_id} is already closed")
    report.link_state, report.candidate_incident_id = CLOSED, None


def _feedback(session: Session, report_id: str, incident_id: str, verdict: str, now: datetime) -> None:
    row = {"report_id": report_id, "incident_id": incident_id, "verdict": verdict, "decided_at": now}
    insert_ignoring_duplicates(session, LinkFeedback, [row], unique=("report_id", "incident_id"))


def confirm(session: Session, report_id: str, now: datetime) -> ReportResult:
    report = _report(session, report_id)
    if report.link_state != "suggested" or report.candidate_incident_id is None:
        raise TriageError(f"report {report_id} has no suggestion to confirm; link it by hand instead")
    return link_by_hand(session, report_id, report.candidate_incident_id, now)


def link_by_hand(session: Session, report_id: str, incident_id: str, now: datetime) -> ReportResult:
    report = _report(session, report_id)
    if session.get(Incident, incident_id) is None:
        raise TriageError(f"no incident {incident_id}")
    _feedback(session, report_id, incident_id, "confirmed", now)
    return subscribe_reporters(session, [Link(report, incident_id, "engineer")], now)[0]


def reject(session: Session, report_id: str, now: datetime) -> str:
    """Reject the suggestion for ``report_id``; returns the incident it was suggested for."""
    report = _report(session, report_id)
    if report.candidate_incident_id is None:
        raise TriageError(f"report {report_id} has no suggestion to reject")
    incident_id = report.candidate_incident_id
    _feedback(session, report_id, incident_id, "rejected", now)
    report.link_state, report.candidate_incident_id = "unlinked", None
    return incident_id


def dismiss(session: Session, suspicion_id: int) -> None:
    suspicion = session.get(SuspectedIncident, suspicion_id)
    if suspicion is None or suspicion.status != "open":
        raise TriageError(f"no open suspected incident #{suspicion_id}")
    suspicion.status = "dismissed"
