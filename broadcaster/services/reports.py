"""Receiving bug reports: store them, let the matcher decide, and say who must hear back.

A batch of reports is decided in one transaction with a fixed number of statements,
so a burst of reports costs a handful of round trips, not a dozen per report. A report
seen for the first time is decided in memory and written once, with what was decided,
in one INSERT for the batch: as an ORM object each cost more than the database's work.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from broadcaster.config import Settings
from broadcaster.domain.events import BugReportReceived
from broadcaster.domain.incidents import Status
from broadcaster.domain.notifications import NotificationKind, kind_for_new_subscriber
from broadcaster.domain.triage import CLOSED, promised_by
from broadcaster.linking.matcher import Outcome as Decided
from broadcaster.linking.matcher import ReportText
from broadcaster.services import ledger
from broadcaster.services.early_warning import check_for_pile_ups
from broadcaster.services.linking import LinkingModel
from broadcaster.services.subscriptions import (
    Link,
    Subscribed,
    link_reports,
    mark_linked,
    queue_first_emails,
    queued_for,
    subscribe,
)
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


@dataclass(slots=True)
class Received:
    """A report not stored yet: a row of ``reports`` (same names), decided before it is written."""

    id: str
    email: str
    name: str
    text: str
    component: str | None
    source: str
    received_at: datetime
    time_zone: str | None
    locale: str | None
    link_state: str = "unlinked"
    incident_id: str | None = None
    linked_at: datetime | None = None
    linked_by: str | None = None
    candidate_incident_id: str | None = None
    link_score: float | None = None
    triage_due_at: datetime | None = None

    @classmethod
    def of(cls, event: BugReportReceived) -> "Received":
        return cls(event.report_id, event.email, event.name, event.text, event.component, event.source,
                   event.received_at, event.time_zone, event.locale)


REPORTS = cast(Table, Report.__table__)
INCIDENTS = cast(Table, Incident.__table__)
COLUMNS = [column.name for column in fields(Received)]
AnyReport = Report | Received


def _known(session: Session, events: Sequence[BugReportReceived]) -> list[AnyReport]:
    """The distinct reports of ``events``: the stored ones (a redelivery), then the new ones in order."""
    stored = list(session.scalars(select(REPORTS.c.id).where(REPORTS.c.id.in_({e.report_id for e in events}))))
    known: dict[str, AnyReport] = {  # as objects only if there are any: the ORM costs more than the look-up
        r.id: r for r in session.scalars(select(Report).where(Report.id.in_(stored)))} if stored else {}
    for event in events:
        if event.report_id not in known:
            known[event.report_id] = Received.of(event)
    return list(known.values())


def _write(session: Session, received: Sequence[Received]) -> None:
    """Store the new reports, as decided, in one statement."""
    if received:
        session.execute(insert(REPORTS), [{name: getattr(r, name) for name in COLUMNS} for r in received])


def subscribe_reporters(session: Session, links: Sequence[Link], now: datetime) -> list[ReportResult]:
    """Link the stored reports, subscribe their reporters and queue what they must hear (idempotent)."""
    return _welcome(session, links, link_reports(session, links, now), now)


def _welcome(session: Session, links: Sequence[Link], subscribed: Subscribed, now: datetime) -> list[ReportResult]:
    """Queue what each linked reporter must hear, and say what is still queued for them."""
    if not links:
        return []
    statuses = session.execute(select(INCIDENTS.c.id, INCIDENTS.c.status)
                               .where(INCIDENTS.c.id.in_({link.incident_id for link in links})))
    is_open = {i: status != Status.RESOLVED for i, status in statuses}
    subscribers = {s: link.incident_id for s, link in zip(subscribed.ids, links, strict=True)}
    queue_first_emails(session, subscribers, {i: kind_for_new_subscriber(o) for i, o in is_open.items()}, now,
                       new=subscribed.new)
    waiting = queued_for(session, subscribers)
    return [
        ReportResult(Outcome.LINKED if is_open[link.incident_id] else Outcome.FIXED_REPLY, link.incident_id,
                     waiting.get(subscriber_id, []))
        for link, subscriber_id in zip(links, subscribed.ids, strict=True)
    ]


def receive_reports(
    session: Session, events: Sequence[BugReportReceived], *, now: datetime, model: LinkingModel
) -> dict[str, ReportResult]:
    """Each report's outcome, by report id.

    Idempotent: a redelivered report changes nothing and re-announces what is still queued.
    Reports the matcher leaves unlinked are checked for a pile-up last, once every link
    in the batch is known. Reports left to a person enter triage (:func:`_promise_triage`).
    """
    reports = _known(session, events)
    received = [r for r in reports if isinstance(r, Received)]
    links = [Link(r, r.incident_id, r.linked_by or "matcher") for r in reports if r.link_state == "linked" and r.incident_id]
    results = {r.id: ReportResult(Outcome.CLOSED) for r in reports if r.link_state == CLOSED}
    undecided = [r for r in reports if not (r.link_state == "linked" and r.incident_id) and r.id not in results]
    unlinked: list[AnyReport] = []
    with session.no_autoflush:  # the matcher reads incidents and feedback, not these reports (see LinkingModel.sync)
        decisions = model.decide_and_learn(session, [ReportText(r.text, r.component, r.received_at) for r in undecided],
                                           now, unstored=[(r.received_at, r.text) for r in received])
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
    mark_linked(links, now)
    waiting = [r for r in reports if r.link_state in (Decided.SUGGESTED.value, Decided.UNLINKED.value)]
    _promise_triage(waiting, now, model.settings)
    _write(session, received)
    for link, result in zip(links, _welcome(session, links, subscribe(session, links, now), now), strict=True):
        results[link.report.id] = result
    suspicions = check_for_pile_ups(session, [(report.id, report.text) for report in unlinked], model, now)
    for report in unlinked:
        results[report.id] = ReportResult(Outcome.UNLINKED, suspicion_id=suspicions[report.id])
    for report_id, receipt_id in _queue_receipts(session, waiting, now, model.settings).items():
        results[report_id] = replace(results[report_id], delivery_ids=[receipt_id])
    return results


def _promise_triage(reports: Sequence[AnyReport], now: datetime, settings: Settings) -> None:
    """Promise each report a person's look, once: a redelivered report keeps the promise it was given."""
    for report in reports:
        report.triage_due_at = report.triage_due_at or promised_by(now, settings.triage_within)


def _queue_receipts(session: Session, reports: Sequence[AnyReport], now: datetime, settings: Settings) -> dict[str, int]:
    """Queue the reporters' receipts if receipts are on; returns the receipts still queued, by report.

    A redelivered report finds its receipt already there, and only announces it again if it has not gone.
    """
    if not settings.sends_triage_receipts:
        return {}
    return ledger.queue_about_reports(session, [r.id for r in reports], NotificationKind.TRIAGE_RECEIPT, now=now)


def receive_report(
    session: Session, event: BugReportReceived, *, now: datetime, model: LinkingModel
) -> ReportResult:
    return receive_reports(session, [event], now=now, model=model)[event.report_id]
