"""The promises of reports waiting for a person: how many are overdue, and whom to remind of what.

Read by ``broadcaster status`` (so it imports nothing heavy) and by the cadence timer on the
leader, which reminds the triage owner. Each reminder is recorded under a unique key
(report, stage) before it is sent, as the incident owners' reminders are
(services/cadence.py), so running it again, on any worker, after any restart, lists a
report once per stage.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from broadcaster.domain.notifications import NotificationKind
from broadcaster.domain.triage import WAITING_STATES, ReminderStage, WaitingReport, reminder_stage
from broadcaster.storage.models import Delivery, Report, TriageReminder
from broadcaster.storage.upsert import inserted_keys

_WAITING = Report.link_state.in_(WAITING_STATES)


@dataclass(frozen=True)
class TriageSummary:
    waiting: int
    overdue: int
    next_due: datetime | None  # the earliest promise of any waiting report: the most overdue, or the next due


def summary(session: Session, now: datetime) -> TriageSummary:
    """How many reports wait for a person, and how many of them past their promise: one query."""
    overdue = func.coalesce(func.sum(case((Report.triage_due_at <= now, 1), else_=0)), 0)
    waiting, late, earliest = session.execute(
        select(func.count(), overdue, func.min(Report.triage_due_at)).where(_WAITING)).one()
    return TriageSummary(waiting, int(late), earliest)


@dataclass(frozen=True)
class TriageReminders:
    """Reports the triage owner hears of now: each listed once per stage, ever."""

    overdue: list[WaitingReport]
    due_soon: list[WaitingReport]

    def __bool__(self) -> bool:
        return bool(self.overdue or self.due_soon)


def reminders_due(session: Session, now: datetime, *, lead: timedelta) -> TriageReminders:
    """Record and return the reminders due now: for reports due within ``lead``, and for those overdue.

    A report first seen already overdue (the worker was down) is only listed as overdue.
    Reports reminded as overdue are done with; the query skips them.
    """
    already_overdue = select(TriageReminder.id).where(
        TriageReminder.report_id == Report.id, TriageReminder.stage == ReminderStage.OVERDUE)
    rows = session.scalars(
        select(Report).where(_WAITING, Report.triage_due_at <= now + lead, ~already_overdue.exists())
        .order_by(Report.triage_due_at, Report.id))
    staged = [(report, reminder_stage(report.triage_due_at, now, lead)) for report in rows
              if report.triage_due_at is not None]
    wanted = [{"report_id": report.id, "stage": stage, "reminded_at": now} for report, stage in staged if stage]
    ours = set(inserted_keys(session, TriageReminder, wanted, unique=("report_id", "stage")))
    listed = [(waiting_report(report), stage) for report, stage in staged if (report.id, stage) in ours]
    return TriageReminders([r for r, stage in listed if stage is ReminderStage.OVERDUE],
                           [r for r, stage in listed if stage is ReminderStage.DUE_SOON])


def waiting_report(report: Report) -> WaitingReport:
    return WaitingReport(report.id, report.email, report.text, report.received_at, report.triage_due_at,
                         report.link_state, report.candidate_incident_id, report.link_score)


@dataclass(frozen=True)
class Receipt:
    """A report's promise, and where its receipt is (None: no receipt was queued, receipts being off)."""

    due: datetime | None
    state: str | None


def receipt_of(session: Session, report_id: str) -> Receipt | None:
    """The promise made to one report's reporter and the state of their receipt; None for an unknown report."""
    row = session.execute(
        select(Report.triage_due_at, Delivery.state)
        .outerjoin(Delivery, (Delivery.report_id == Report.id) & (Delivery.kind == NotificationKind.TRIAGE_RECEIPT))
        .where(Report.id == report_id)).one_or_none()
    return Receipt(*row) if row else None
