"""`broadcaster status`: one screen that says whether the system is healthy, and why not."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broadcaster.domain.notifications import DeliveryState
from broadcaster.domain.triage import describe_wait, due_label
from broadcaster.ops.lag_report import PartitionReport
from broadcaster.services.cadence import open_with_promises
from broadcaster.services.delivery_trouble import trouble_counts
from broadcaster.services.outbox import backlog
from broadcaster.services.triage_promises import summary as triage_summary
from broadcaster.storage.models import Delivery, IntakeRequest


@dataclass(frozen=True)
class Check:
    name: str
    healthy: bool
    detail: str


MEMBERSHIP = {True: "members active", False: "no members", None: "membership unknown (the broker cannot say)"}


def workers_check(group: str, members_active: bool | None, reports: list[PartitionReport], stall_after: float) -> Check:
    """Are workers consuming? From membership where the broker tells it, else from lag and commit age.

    The embedded broker cannot describe groups, so a dead worker shows only as messages
    that wait with no commit: after ``stall_after`` seconds of that, it is a failure.
    """
    waiting = sum(r.lag.lag for r in reports)
    stuck = [r.waiting_seconds for r in reports if r.waiting_seconds is not None and r.waiting_seconds > stall_after]
    head = f"group {group}: {MEMBERSHIP[members_active]}"
    if stuck:
        return Check("workers", False, f"{head}; no progress for {max(stuck):.0f} s while {waiting} message(s) wait")
    if members_active is False:
        return Check("workers", False, f"{head}; {waiting} message(s) wait" if waiting else
                     f"{head}; no worker would handle new messages")
    oldest = max((r.waiting_seconds or 0.0 for r in reports), default=0.0)
    return Check("workers", True, f"{head}; {waiting} message(s) waiting, the oldest for {oldest:.0f} s" if waiting else
                 f"{head}; nothing waiting")


def dead_letters_check(waiting: int, topic: str, on_topic: int | None) -> Check:
    """Unhealthy while a dead letter waits for an operator (``dead-letters replay`` or ``purge`` deals with it).

    The topic's count is shown beside it, for tools that read Kafka: an operator cannot empty
    a topic, so it never makes the check fail (it empties by retention).
    """
    topic_part = f"; {on_topic} on {topic}" if on_topic else ""
    if waiting:
        return Check("dead letters", False, f"{waiting} waiting: `broadcaster dead-letters list`, then replay or purge"
                     + topic_part)
    return Check("dead letters", True, "none waiting" + topic_part)


def deliveries_check(session: Session, *, now: datetime, lease: timedelta) -> Check:
    counts = trouble_counts(session, now=now, lease=lease)
    healthy = not any(counts.values())
    return Check("deliveries", healthy, "none stuck or failing" if healthy else
                 f"{counts['stuck']} stuck (sender stopped), {counts['failed']} failed (will be retried), "
                 f"{counts['held']} held (account refused), {counts['dead']} dead; `broadcaster deliveries` lists them")


def mail_account_check(session: Session) -> Check:
    """Does the mail provider accept our account? Held deliveries say it refused it (401/403), and why."""
    reason = session.scalar(select(Delivery.last_error).where(Delivery.state == DeliveryState.HELD)
                            .order_by(Delivery.retry_at.desc()).limit(1))
    return Check("mail account", reason is None, "accepted" if reason is None else
                 f"{reason}; emails wait and go out by themselves once the account works")


def overdue_check(session: Session, now: datetime) -> Check:
    overdue = [i.id for i in open_with_promises(session) if i.next_update_at and i.next_update_at < now]
    return Check("promised updates", not overdue,
                 f"overdue: {', '.join(overdue)}" if overdue else "none overdue")


def triage_check(session: Session, now: datetime, owner: str | None) -> Check:
    """Reports waiting for a person, and whether any is past its promise (a failure: someone waits unseen)."""
    waiting = triage_summary(session, now)
    if not waiting.waiting:
        detail = "nobody waiting"
    elif waiting.overdue and waiting.next_due is not None:
        detail = (f"{waiting.waiting} waiting, {waiting.overdue} overdue (the longest by "
                  f"{describe_wait(now - waiting.next_due)}); `broadcaster triage` lists them")
    else:
        soonest = f", the next {due_label(waiting.next_due, now)}" if waiting.next_due else ""
        detail = f"{waiting.waiting} waiting, none overdue{soonest}"
    if owner is None:
        detail += "; nobody is reminded (set BROADCASTER_TRIAGE_OWNER)"
    return Check("triage", not waiting.overdue, detail)


def outbox_check(session: Session, now: datetime, *, settle: timedelta = timedelta(seconds=30)) -> Check:
    """Accepted messages still not on the broker after ``settle``: the broker or every relay is down."""
    count, oldest = backlog(session)
    if not count or oldest is None or now - oldest < settle:
        return Check("outbox", True, "every accepted message is on the broker" if not count
                     else f"{count} accepted message(s) being published")
    return Check("outbox", False, f"{count} accepted message(s) not on the broker yet, the oldest for "
                 f"{int((now - oldest).total_seconds())} s; they are safe in the database and go out once the broker "
                 "answers and a worker (or any command that publishes) runs")


def intake_check(session: Session, now: datetime, window: timedelta = timedelta(hours=1)) -> Check:
    """What reached the intake API in the last hour, per entrance: a desk that went quiet shows here.

    Only information (always ok): a quiet hour is normal at night. The entrance is the
    support desk's name, or ``api`` for a client with an API key.
    """
    entrance = func.coalesce(IntakeRequest.desk, "api")
    rows = session.execute(select(entrance, func.count()).where(IntakeRequest.accepted_at >= now - window)
                           .group_by(entrance).order_by(entrance)).all()
    if not rows:
        return Check("intake", True, "no report through the intake API in the last hour")
    total = sum(count for _, count in rows)
    return Check("intake", True, f"{total} report(s) in the last hour: "
                 + ", ".join(f"{name} {count}" for name, count in rows))
