"""`broadcaster status`: one screen that says whether the system is healthy, and why not."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from broadcaster.services.cadence import open_with_promises
from broadcaster.services.ledger import trouble_counts


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
                 f"{counts['dead']} dead; `broadcaster deliveries` lists them")


def overdue_check(session: Session, now: datetime) -> Check:
    overdue = [i.id for i in open_with_promises(session) if i.next_update_at and i.next_update_at < now]
    return Check("promised updates", not overdue,
                 f"overdue: {', '.join(overdue)}" if overdue else "none overdue")
