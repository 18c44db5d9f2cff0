"""`broadcaster status`: one screen that says whether the system is healthy, and why not."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.domain.notifications import DeliveryState
from broadcaster.services.cadence import open_with_promises
from broadcaster.services.ledger import trouble_counts
from broadcaster.storage.models import Delivery


@dataclass(frozen=True)
class Check:
    name: str
    healthy: bool
    detail: str


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
