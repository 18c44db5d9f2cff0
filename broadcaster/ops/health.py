"""`broadcaster status`: one screen that says whether the system is healthy, and why not."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broadcaster.services.cadence import open_with_promises
from broadcaster.storage.models import Delivery


@dataclass(frozen=True)
class Check:
    name: str
    healthy: bool
    detail: str


def deliveries_check(session: Session) -> Check:
    counts = dict(session.execute(
        select(Delivery.state, func.count()).where(Delivery.state.in_(["failed", "dead"])).group_by(Delivery.state)
    ).all())
    failed, dead = counts.get("failed", 0), counts.get("dead", 0)
    return Check("deliveries", failed == 0 and dead == 0,
                 f"{failed} failed (will be retried), {dead} dead" if failed or dead else "none failing")


def overdue_check(session: Session, now: datetime) -> Check:
    overdue = [i.id for i in open_with_promises(session) if i.next_update_at and i.next_update_at < now]
    return Check("promised updates", not overdue,
                 f"overdue: {', '.join(overdue)}" if overdue else "none overdue")
