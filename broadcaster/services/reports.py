"""Receiving bug reports: store them, let the matcher decide, and say who must hear back.

A batch of reports is decided in one transaction with a fixed number of statements,
so a burst of reports costs a handful of round trips, not a dozen per report.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.config import Settings
from broadcaster.domain.events import BugReportReceived
from broadcaster.domain.incidents import Status
from broadcaster.domain.notifications import NotificationKind, kind_for_new_subscriber
from broadcaster.domain.triage import CLOSED, promised_by
from broadcaster.linking.matcher import Outcome as Decided
from broadcaster.services import ledger
from broadcaster.services.early_warning import check_for_pile_up
from broadcaster.services.linking import LinkingModel
from broadcaster.services.subscriptions import Link, link_reports, queue_first_emails, queued_for
from broadcaster.storage.models import Incident, Report


class Outcome(StrEnum):
    LINKED = "linked"
    FIXED_REPLY = "fixed_reply"
    SUGGESTED = "suggested"
    UNLINKED = "unlinked"
    CLOSED = "closed"  # an engineer closed it earlier (a redelivery): left as it is


@dataclass(frozen=True)
class ReportResult:
    outcome: Outcome
    incident_id: str | None = None
    delivery_ids: list[int] = field(default_factory=list)
    suspicion_id: int | None = None


def _store(session: Session, events: Sequence[BugReportReceived]) -> list[Report]:
    """The distinct reports of ``events``, each new or (after a redelivery) already stored.

    New ones are added, not yet written: :func:`receive_reports` writes them once decided,
    in one INSERT with what was decided instead of an INSERT and then an UPDATE.
    """
    known = {r.id: r for r in session.scalars(select(Report).where(Report.id.in_({e.report_id for e in events})))}
    for event in events:
        if event.report_id not in known:
            known[event.report_id] = Report(
                id=event.report_id, email=event.email, name=event.name, text=event.text,
                component=event.component, source=event.source, received_at=event.received_at,
                link_state="unlinked", time_zone=event.time_zone, locale=event.locale,
            )
            session.add(known[event.report_id])
    return list(known.values())


def subscribe_reporters(session: Session, links: Sequence[Link], now: datetime) -> list[ReportResult]:
    """Link the reports, subscribe their reporters and queue what they must hear (idempotent)."""
    if not links:
        return []
    subscribers = link_reports(session, links, now)
    is_open = {i: session.get_one(Incident, i).status != Status.RESOLVED for i in {link.incident_id for link in links}}
    queue_first_emails(session, subscribers, {i: kind_for_new_subscriber(o) for i, o in is_open.items()}, now)
    waiting = queued_for(session, subscribers)
    return [
        ReportResult(Outcome.LINKED if is_open[link.incident_id] else Outcome.FIXED_REPLY, link.incident_id,
                     waiting.get(subscriber.id, []))
        for link, subscriber in zip(links, subscribers, strict=True)
    ]


def receive_reports(
    session: Session, events: Sequence[BugReportReceived], *, now: datetime, model: LinkingModel
) -> dict[str, ReportResult]:
    """Each report's outcome, by report id.

    Idempotent: a redelivered report changes nothing and re-announces what is still queued.
    Reports the matcher leaves unlinked are checked for a pile-up last, once every link
    in the batch is known. Reports left to a person enter triage (:func:`_enter_triage`).
    """
    reports = _store(session, events)
    links = [Link(r, r.incident_id, r.linked_by or "matcher") for r in reports if r.link_state == "linked" and r.incident_id]
    results = {r.id: ReportResult(Outcome.CLOSED) for r in reports if r.link_state == CLOSED}
    undecided = [r for r in reports if not (r.link_state == "linked" and r.incident_id) and r.id not in results]
    unlinked: list[Report] = []
    with session.no_autoflush:  # the matcher reads incidents and feedback, not these reports (see LinkingModel.sync)
        decisions = model.decide_and_learn(session, undecided, now)
    for report, decision in zip(undecided, decisions, strict=True):
        report.link_score = decision.score
        if decision.outcome is Decided.LINKED and decision.incident_id:
            links.append(Link(report, decision.incident_id))
            continue
        report.link_state, report.candidate_incident_id = decision.outcome.value, decision.incident_id
        if decision.outcome is Decided.SUGGESTED:
            results[report.id] = ReportResult(Outcome.SUGGESTED, decision.incident_id)
        else:
            unlinked.append(report)
    for link, result in zip(links, subscribe_reporters(session, links, now), strict=True):
        results[link.report.id] = result
    session.flush()  # every new report as decided (the linked ones went in as subscribe_reporters read subscribers)
    for report in unlinked:
        suspicion = check_for_pile_up(session, report, model, now)
        results[report.id] = ReportResult(Outcome.UNLINKED, suspicion_id=suspicion.id if suspicion else None)
    waiting = [r for r in reports if results[r.id].outcome in (Outcome.SUGGESTED, Outcome.UNLINKED)]
    for report_id, receipt_id in _enter_triage(session, waiting, now, model.settings).items():
        results[report_id] = replace(results[report_id], delivery_ids=[receipt_id])
    return results


def _enter_triage(session: Session, reports: Sequence[Report], now: datetime, settings: Settings) -> dict[str, int]:
    """Promise each report a person's look, once, and queue its reporter's receipt if receipts are on.

    Returns the receipts still queued, by report: a redelivered report finds its promise
    and its receipt already there, and only announces the receipt again if it has not gone.
    """
    for report in reports:
        report.triage_due_at = report.triage_due_at or promised_by(now, settings.triage_within)
    if not settings.sends_triage_receipts:
        return {}
    return ledger.queue_about_reports(session, [r.id for r in reports], NotificationKind.TRIAGE_RECEIPT, now=now)


def receive_report(
    session: Session, event: BugReportReceived, *, now: datetime, model: LinkingModel
) -> ReportResult:
    return receive_reports(session, [event], now=now, model=model)[event.report_id]
