"""What operators see of the ledger: deliveries stuck, failing, held or dead, and how many.

Read-only: services/ledger.py writes every delivery row; this answers `broadcaster
deliveries`, `status`, the health check and the worker's metrics.
"""

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, joinedload

from broadcaster.domain.notifications import DeliveryState
from broadcaster.services.ledger import TROUBLED_STATES
from broadcaster.storage.models import Delivery


def _stuck(now: datetime, lease: timedelta) -> ColumnElement[bool]:
    """Claimed longer ago than the lease: its sender stopped before it finished (the sweep will retry it)."""
    return and_(Delivery.state == DeliveryState.SENDING, Delivery.claimed_at < now - lease)


def state_shown(row: Delivery, *, now: datetime, lease: timedelta) -> str:
    """A row's state as operators see it: ``stuck`` for a claim whose lease ran out."""
    if row.state == DeliveryState.SENDING and row.claimed_at is not None and row.claimed_at < now - lease:
        return "stuck"
    return row.state


def addressed(row: Delivery) -> tuple[str, str]:
    """What a row (loaded as :func:`troubled` loads it) is about, its incident or its report, and to whom."""
    if row.update is not None and row.subscriber is not None:
        return row.update.incident_id, row.subscriber.email
    assert row.report is not None, "a row names an update and subscriber, or a report (only queue* write rows)"
    return f"report {row.report.id}", row.report.email


def troubled(session: Session, *, now: datetime, lease: timedelta, dead_only: bool = False,
             limit: int = 200) -> list[Delivery]:
    """Stuck, failed (retrying), held and dead deliveries, newest first, with who and what they were for."""
    wanted = Delivery.state == DeliveryState.DEAD if dead_only else or_(
        Delivery.state.in_(TROUBLED_STATES), _stuck(now, lease))
    return list(
        session.scalars(
            select(Delivery)
            .where(wanted)
            .options(joinedload(Delivery.subscriber), joinedload(Delivery.update), joinedload(Delivery.report))
            .order_by(Delivery.id.desc())
            .limit(limit)
        )
    )


def trouble_counts(session: Session, *, now: datetime, lease: timedelta) -> dict[str, int]:
    """How many deliveries are stuck, failed (to be retried), held (account refused) and dead."""
    counts = dict(session.execute(
        select(Delivery.state, func.count()).where(Delivery.state.in_(TROUBLED_STATES)).group_by(Delivery.state)
    ).all())
    stuck = session.scalar(select(func.count()).select_from(Delivery).where(_stuck(now, lease))) or 0
    return {"stuck": stuck, **{state.value: counts.get(state, 0) for state in TROUBLED_STATES}}
