"""What each claimed delivery says: its facts read from SQL, and its email composed.

The ledger (services/ledger.py) decides which rows are sent and records how it went; this
reads what a claimed page of rows needs (the update, the incident, the person, their
report, a holding update's context, a receipt's report) in a few set-based queries and
composes the emails (messages/compose.py), refusing only the rows that cannot be composed.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broadcaster.domain.email import OutgoingEmail, SendResult
from broadcaster.domain.notifications import DeliveryState, NotificationKind, SubscriberSource
from broadcaster.messages.compose import EmailFacts, ReceiptFacts, compose_alike, compose_receipts, content_key, receipt_key
from broadcaster.messages.sender import Sender
from broadcaster.services import notes
from broadcaster.storage.models import Delivery, Incident, IncidentUpdate, Report, Subscriber
from broadcaster.storage.upsert import among

_PERSON_COLUMNS: dict[str, Any] = {  # for each row of a page, in the order compose_claimed unpacks them
    "delivery_id": Delivery.id, "kind": Delivery.kind, "update_id": Delivery.update_id, "email": Subscriber.email,
    "name": Subscriber.name, "report_text": func.coalesce(Report.text, ""),  # a follower has no report
    "reported_at": func.coalesce(Report.received_at, Subscriber.subscribed_at), "source": Subscriber.source,
    "time_zone": Subscriber.time_zone, "locale": Subscriber.locale, "subscriber_id": Subscriber.id,
    "first_report_id": Subscriber.first_report_id,
}
_KINDS = {kind.value: kind for kind in NotificationKind}  # a look-up: the enum's own call costs more, per person
_UPDATE_COLUMNS: dict[str, Any] = {  # EmailFacts field: where it is stored, once for each update of a page
    "incident_id": Incident.id, "incident_title": Incident.title, "status": IncidentUpdate.status,
    "description": Incident.description, "workaround": Incident.workaround, "update_message": IncidentUpdate.message,
    "update_at": IncidentUpdate.created_at, "next_update_at": IncidentUpdate.next_update_at,
    "how_to_verify": Incident.how_to_verify, "private": Incident.private, "severity": Incident.severity,
    "communicator": Incident.communicator, "declared_at": Incident.declared_at,
}
Facts = TypeVar("Facts", EmailFacts, ReceiptFacts)  # what one row's email is composed from
_UPDATE_KINDS_WITH_NEWS = ("declared", "progress")


def _follow_ups(session: Session, people: set[tuple[int, str, str, str]]) -> dict[int, datetime]:
    """When each subscriber last wrote again about their incident, if no email to them was composed since.

    ``people``: (subscriber id, address, incident, first report) of a page's reporters.
    Their other reports linked to the same incident after their last sent email was claimed
    (and so composed). One query for the page, which finds nothing for nearly everyone (a
    correlated subquery per row cost the acknowledgements 0.8 s of p50 at 200 reports a
    second on SQLite); the last composed email is read only for those who wrote again.
    The reports are found by address alone and matched here: joined on the incident too,
    SQLite read every report of the incident for each person (its incident index), a page
    cost grew with the incident's reports, and at 400 reports a second it was a third of
    the worker's time.
    """
    by_address: dict[tuple[str, str | None], list[tuple[int, str]]] = {}
    for subscriber_id, email, incident_id, first_report_id in people:
        by_address.setdefault((email, incident_id), []).append((subscriber_id, first_report_id))
    if not by_address:
        return {}
    reports = session.execute(
        select(Report.email, Report.incident_id, Report.id, Report.received_at, Report.linked_at)
        .where(among(session, Report.email, list({email for email, _ in by_address}))))
    wrote_again = [(subscriber_id, received_at, linked_at)
                   for email, incident_id, report_id, received_at, linked_at in reports
                   for subscriber_id, first_report_id in by_address.get((email, incident_id), ())
                   if report_id != first_report_id]
    if not wrote_again:
        return {}
    last_composed = {subscriber_id: at for subscriber_id, at in session.execute(
        select(Delivery.subscriber_id, func.max(Delivery.claimed_at))
        .where(among(session, Delivery.subscriber_id, list({i for i, _, _ in wrote_again})), Delivery.state == DeliveryState.SENT)
        .group_by(Delivery.subscriber_id))}
    found: dict[int, datetime] = {}
    for subscriber_id, received_at, linked_at in wrote_again:
        composed = last_composed.get(subscriber_id)
        if composed is None or (linked_at is not None and linked_at > composed):
            found[subscriber_id] = max(received_at, found.get(subscriber_id, received_at))
    return found


@dataclass
class Composed:
    """A claimed page: the emails to send, and the rows that cannot become an email (dead at once)."""

    emails: list[OutgoingEmail] = field(default_factory=list)
    refused: list[SendResult] = field(default_factory=list)


def compose_claimed(session: Session, delivery_ids: Sequence[int], sender: Sender,
                    now: datetime | None = None) -> Composed:
    """Each claimed row's email; rows with the same content key are rendered once and filled per person.

    The facts are read as plain column tuples: at 1,000 rows a page, building ORM objects
    for five tables cost more than everything else in a send; what the page's other queries
    need is taken column by column (a row's attribute costs 0.2 µs, each of 1,000 times).
    Each person's in one query and each update's and its incident's once in another: joined,
    the update's text and the incident's came back (and were converted) a thousand times a page.
    A group that fails to compose is composed person by person, so only the rows that
    really cannot be composed are refused.
    """
    found = session.connection().execute(  # Core rows: the ORM's loading of plain columns cost 3 µs a row
        select(*(column.label(name) for name, column in _PERSON_COLUMNS.items()))
        .join(Subscriber, Delivery.subscriber_id == Subscriber.id)
        .outerjoin(Report, Subscriber.first_report_id == Report.id)  # none for a follower or an affected person
        .where(among(session, Delivery.id, delivery_ids), Delivery.update_id.is_not(None))
        .order_by(Delivery.id)
    ).all()
    column = dict(zip(_PERSON_COLUMNS, list(zip(*found, strict=True)) or [()] * len(_PERSON_COLUMNS), strict=True))
    updates = _update_facts(session, set(column["update_id"]))
    holding = _holding_context(session, {update_id for update_id, kind in zip(column["update_id"], column["kind"],
                                                                              strict=True) if kind == NotificationKind.HOLDING})
    follow_ups = _follow_ups(session, {  # only a reporter has a first report to write again after
        (subscriber_id, email, updates[update_id]["incident_id"], first_report_id)
        for subscriber_id, email, update_id, first_report_id in zip(
            column["subscriber_id"], column["email"], column["update_id"], column["first_report_id"], strict=True)
        if first_report_id is not None})
    groups: dict[str, list[EmailFacts]] = {}
    for (delivery_id, kind, update_id, email, name, report_text, reported_at, source, time_zone, locale, subscriber_id,
         _) in found:
        facts = EmailFacts(
            delivery_id=delivery_id, kind=_KINDS[kind], update_key=str(update_id), to_email=email, to_name=name,
            report_text=report_text, reported_at=reported_at, follower=source == SubscriberSource.FOLLOWER,
            affected=source == SubscriberSource.AFFECTED, time_zone=time_zone, locale=locale,
            followed_up_at=follow_ups.get(subscriber_id), **updates[update_id], **holding.get(update_id, {}))
        groups.setdefault(content_key(facts), []).append(facts)
    composed = Composed()
    for group in groups.values():
        compose_together(group, partial(compose_alike, sender=sender, now=now), composed)
    if sum(map(len, groups.values())) < len(delivery_ids):  # some are about a report, not an update
        receipts: dict[str, list[ReceiptFacts]] = {}
        for receipt in _receipt_facts(session, delivery_ids):
            receipts.setdefault(receipt_key(receipt, sender), []).append(receipt)
        for alike in receipts.values():
            compose_together(alike, partial(compose_receipts, sender=sender), composed)
    return composed


def compose_together(group: Sequence[Facts], make: Callable[[Sequence[Facts]], list[OutgoingEmail]],
                      composed: Composed) -> None:
    """Add a group's emails to ``composed``; a group that fails is composed person by person, so only the rows
    that really cannot be composed are refused."""
    try:
        composed.emails += make(group)
    except Exception:  # noqa: BLE001 - find the rows that cannot be composed; send the others
        for facts in group:
            _compose_or_refuse(facts.delivery_id, partial(_alone, make, facts), composed)


def _update_facts(session: Session, update_ids: set[int]) -> dict[int, dict[str, Any]]:
    """What each update and its incident say, by update id."""
    rows = session.connection().execute(
        select(IncidentUpdate.id.label("update_id"), *(column.label(name) for name, column in _UPDATE_COLUMNS.items()))
        .join(Incident, IncidentUpdate.incident_id == Incident.id).where(IncidentUpdate.id.in_(update_ids)))
    return {row.pop("update_id"): {**row, "private": bool(row["private"])} for row in map(dict, rows.mappings())}


def _holding_context(session: Session, update_ids: set[int]) -> dict[int, dict[str, Any]]:
    """For each holding update: how many came in a row (with it), and the team's last news before it.

    Holding updates are rare (one per incident and cadence period), so a few small queries each.
    """
    context: dict[int, dict[str, Any]] = {}
    for update_id in update_ids:
        holding = session.get_one(IncidentUpdate, update_id)
        earlier = select(IncidentUpdate).where(IncidentUpdate.incident_id == holding.incident_id,
                                               IncidentUpdate.id < update_id)
        news = session.scalars(earlier.where(IncidentUpdate.kind.in_(_UPDATE_KINDS_WITH_NEWS))
                               .order_by(IncidentUpdate.id.desc()).limit(1)).first()
        since = IncidentUpdate.id > news.id if news else IncidentUpdate.id > 0
        in_a_row = session.scalar(select(func.count()).select_from(earlier.where(
            IncidentUpdate.kind == "holding", since).subquery())) or 0
        context[update_id] = {"holding_in_a_row": in_a_row + 1, **_last_word(session, holding, news)}
    return context


def _last_word(session: Session, holding: IncidentUpdate, news: IncidentUpdate | None) -> dict[str, Any]:
    """What a holding update quotes as what the team is doing now.

    The newer of the last news (a progress message, or the declaration's description) and the
    last shareable note kept by the time the holding update was written, so its recipients all
    read the same words however late their email is composed. An unshared note is never quoted.
    """
    note = notes.latest_shared(session, holding.incident_id, until=holding.created_at)
    said = news if news is not None and news.message else None
    if note is not None and (said is None or note.created_at > said.created_at):
        return {"latest_news": note.message, "latest_news_at": note.created_at, "latest_news_from_note": True}
    return {"latest_news": said.message, "latest_news_at": said.created_at} if said else {}



def _receipt_facts(session: Session, delivery_ids: Sequence[int]) -> list[ReceiptFacts]:
    """What each claimed receipt says: to whom, their words, and the promise of their report."""
    rows = session.execute(
        select(Delivery.id, Report.id, Report.email, Report.name, Report.text, Report.received_at, Report.triage_due_at,
               Report.time_zone, Report.locale)
        .join(Report, Delivery.report_id == Report.id)
        .where(among(session, Delivery.id, delivery_ids), Delivery.kind == NotificationKind.TRIAGE_RECEIPT)
        .order_by(Delivery.id)
    )
    return [ReceiptFacts(*row) for row in rows]


def _alone(make: Callable[[Sequence[Facts]], list[OutgoingEmail]], facts: Facts) -> OutgoingEmail:
    return make([facts])[0]


def _compose_or_refuse(delivery_id: int, make: Callable[[], OutgoingEmail], composed: Composed) -> None:
    try:
        composed.emails.append(make())
    except Exception as error:  # noqa: BLE001 - recorded as this row's reason
        composed.refused.append(SendResult(delivery_id, False, f"cannot be composed: {type(error).__name__}"))
