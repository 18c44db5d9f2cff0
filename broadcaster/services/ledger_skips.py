"""Part of the delivery ledger (:mod:`broadcaster.services.ledger`): which claimed rows must not go out now.

A row is skipped, not failed, when its address is suppressed (the person stopped all email,
bounced, reported spam), its subscriber left the incident, a receipt's report left triage
before the receipt went out, or it is a holding update at night in the reader's time zone.
The reason is kept in ``last_error``. Only the ledger calls this module: it marks the rows it
skips, and the ledger writes every other change to a delivery row.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select, update
from sqlalchemy.orm import Session, aliased

from broadcaster.domain.notifications import DeliveryState, NotificationKind
from broadcaster.domain.quiet_hours import QuietHours
from broadcaster.domain.triage import WAITING_STATES as TRIAGE_STATES
from broadcaster.storage.models import Delivery, Report, Subscriber, Suppression
from broadcaster.storage.upsert import among

SUPPRESSED = "suppressed: "  # and the suppression's reason
UNSUBSCRIBED = "unsubscribed from this incident"


def decided_on_insert(rows: Select[Any], state: ColumnElement[Any]) -> tuple[Select[Any], ColumnElement[Any],
                                                                                ColumnElement[Any]]:
    """For rows inserted from the subscribers (``rows`` selects them): the join, ``last_error`` and state that put a
    suppressed address's or an unsubscribed person's row in ``skipped`` with its reason (as :func:`drop_unwanted`
    says it), and everyone else's in ``state``: one statement, as :func:`~broadcaster.services.ledger.queue_claimed`
    explains.
    """
    suppressed = aliased(Suppression)
    last_error = case((suppressed.reason.is_not(None), SUPPRESSED + suppressed.reason),
                      (Subscriber.unsubscribed_at.is_not(None), UNSUBSCRIBED))
    skipped = literal(DeliveryState.SKIPPED, Delivery.__table__.c.state.type)
    joined = rows.outerjoin(suppressed, suppressed.email == Subscriber.email)  # its key: one row at most
    return joined, last_error, case((last_error.is_not(None), skipped), else_=state)


def still_wanted(session: Session, claimed: list[int], now: datetime, quiet: QuietHours | None,
                 default_time_zone: str) -> list[int]:
    """Claimed rows less those skipped now (suppressed, unsubscribed, quiet hours), sorted."""
    return awake(session, drop_unwanted(session, claimed), now, quiet, default_time_zone)


def awake(session: Session, claimed: list[int], now: datetime, quiet: QuietHours | None,
          default_time_zone: str) -> list[int]:
    """Claimed rows less those skipped for the reader's quiet hours (if any are set), sorted."""
    return sorted(drop_quiet(session, claimed, now, quiet, default_time_zone) if quiet else claimed)


def drop_quiet(session: Session, delivery_ids: Sequence[int], now: datetime, quiet: QuietHours,
               default_time_zone: str) -> list[int]:
    """Skip holding updates ("no news yet") to readers in their quiet hours; returns the rest.

    Skipped, not delayed: the next news or the next holding update tells them more than
    this one would in the morning, and the promise it carried was kept for everyone else.
    """
    rows = session.execute(
        select(Delivery.id, Subscriber.time_zone).join(Subscriber, Delivery.subscriber_id == Subscriber.id)
        .where(among(session, Delivery.id, delivery_ids), Delivery.kind == NotificationKind.HOLDING))
    asleep = [i for i, zone in rows if quiet.contains(now, zone or default_time_zone)]
    if asleep:
        session.execute(update(Delivery).where(Delivery.id.in_(asleep)).values(
            state=DeliveryState.SKIPPED, last_error="quiet hours: a holding update at night in the reader's time zone"))
    skipped = set(asleep)
    return [i for i in delivery_ids if i not in skipped]


def drop_unwanted(session: Session, delivery_ids: Sequence[int]) -> list[int]:
    """Mark claimed deliveries skipped that must not go out now; return the ones still to send.

    Skipped, not dead: nothing failed, so operators are not called to it; the reason is kept
    in ``last_error``. The address is suppressed (the person stopped all email, bounced,
    reported spam), the subscriber left the incident, or a receipt's report left triage
    before the receipt went out (its acknowledgement, or a person, answers instead). One
    query: a suppression (all email) wins over the other reasons. The suppressions are
    joined once by the subscriber's address and once by the report's, each an index look-up:
    joined on either address at once, PostgreSQL hashed the whole suppression list for
    every page and read every subscriber (14 µs a recipient of a fan-out, with none suppressed).
    """
    by_subscriber, by_report = aliased(Suppression), aliased(Suppression)
    receipt_needless = and_(Delivery.kind == NotificationKind.TRIAGE_RECEIPT, Report.link_state.not_in(TRIAGE_STATES))
    rows = session.execute(
        select(Delivery.id, func.coalesce(by_subscriber.reason, by_report.reason), Subscriber.unsubscribed_at,
               Report.link_state)
        .outerjoin(Subscriber, Delivery.subscriber_id == Subscriber.id)
        .outerjoin(Report, Delivery.report_id == Report.id)
        .outerjoin(by_subscriber, by_subscriber.email == Subscriber.email)
        .outerjoin(by_report, by_report.email == Report.email)
        .where(among(session, Delivery.id, delivery_ids),
               or_(by_subscriber.email.is_not(None), by_report.email.is_not(None), Subscriber.unsubscribed_at.is_not(None),
                   receipt_needless))
    )
    blocked = {i: _why_skipped(reason, left_at, link_state) for i, reason, left_at, link_state in rows}
    for error in set(blocked.values()):
        ids = [i for i, e in blocked.items() if e == error]
        session.execute(update(Delivery).where(Delivery.id.in_(ids))
                        .values(state=DeliveryState.SKIPPED, last_error=error))
    return [i for i in delivery_ids if i not in blocked]


def _why_skipped(suppressed_because: str | None, left_at: datetime | None, link_state: str | None) -> str:
    if suppressed_because:
        return SUPPRESSED + suppressed_because
    if left_at is not None:
        return UNSUBSCRIBED
    return f"not needed: the report was {link_state} before its receipt went out"
