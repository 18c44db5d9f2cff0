"""Replies to our emails: stored with their incident, never answered, and read as a sign the fix did not hold.

The intake API stores a reply in the request that receives it (a row, like its intake
rows; nothing downstream needs it on a topic). A reply received while its incident is
resolved that says it still fails (:func:`broadcaster.domain.replies.meaning`) is a
*regression*: the worker's leader tells the incident's owner, once per incident for all
the regressions it finds in one pass (streams/replies.py), `broadcaster triage` lists the
incident with the command that reopens it, and `broadcaster status` fails until someone
decides. Replies received before the latest resolution no longer count once it is
reopened and resolved again.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from broadcaster.domain.incidents import Status
from broadcaster.domain.replies import ReplyMeaning, meaning
from broadcaster.messages.compose import excerpt
from broadcaster.storage.models import Delivery, Incident, Reply, Subscriber
from broadcaster.storage.upsert import insert_ignoring_duplicates

LATEST_SHOWN = 3


@dataclass(frozen=True)
class StoredReply:
    incident_id: str
    meaning: ReplyMeaning
    regression: bool
    repeated: bool  # the same email again (SendGrid retried): nothing new was stored


@dataclass(frozen=True)
class Regression:
    """Subscribers of a resolved incident who say it still fails, since it was resolved."""

    incident_id: str
    title: str
    owner_email: str | None
    subscribers: int
    excerpts: tuple[str, ...]  # the latest few, newest first


@dataclass(frozen=True)
class IncidentReplies:
    count: int
    still_fails: int
    latest: list[Reply]


def reopen_command(incident_id: str) -> str:
    return f"broadcaster incident reopen {incident_id}"


def record(session: Session, delivery_id: int, *, text: str, fingerprint: str, received_at: datetime) -> StoredReply | None:
    """Store a reply to the email of ``delivery_id`` once per fingerprint; None when no such email was sent."""
    found = session.execute(
        select(Subscriber.id, Subscriber.email, Incident.id, Incident.status)
        .select_from(Delivery).join(Subscriber, Delivery.subscriber_id == Subscriber.id)
        .join(Incident, Subscriber.incident_id == Incident.id).where(Delivery.id == delivery_id)
    ).first()
    if found is None:
        return None
    subscriber_id, email, incident_id, status = found
    said = meaning(text)
    regression = said is ReplyMeaning.STILL_FAILS and status == Status.RESOLVED
    row = {"fingerprint": fingerprint, "incident_id": incident_id, "subscriber_id": subscriber_id,
           "delivery_id": delivery_id, "email": email, "received_at": received_at, "text": text,
           "classification": said.value, "regression": regression}
    inserted = insert_ignoring_duplicates(session, Reply, [row], unique=("fingerprint",))
    return StoredReply(incident_id, said, regression, repeated=inserted == 0)


def _since_resolution(session: Session, incident_ids: list[str] | None = None) -> dict[str, int]:
    """Resolved incident id -> how many subscribers said it still fails after its latest resolution."""
    query = (select(Incident.id, func.count(distinct(Reply.subscriber_id)))
             .join(Reply, Reply.incident_id == Incident.id)
             .where(Incident.status == Status.RESOLVED, Reply.regression.is_(True),
                    Reply.received_at >= Incident.resolved_at)
             .group_by(Incident.id))
    if incident_ids is not None:
        query = query.where(Incident.id.in_(incident_ids))
    return {incident_id: count for incident_id, count in session.execute(query).all()}


def pending_regressions(session: Session) -> list[Regression]:
    """Resolved incidents some subscribers say still fail, most voices first: waiting for a decision."""
    return sorted((_regression(session, incident_id, count)
                   for incident_id, count in _since_resolution(session).items()),
                  key=lambda r: (-r.subscribers, r.incident_id))


def _regression(session: Session, incident_id: str, subscribers: int) -> Regression:
    incident = session.get_one(Incident, incident_id)
    texts = session.scalars(select(Reply.text).where(Reply.incident_id == incident_id, Reply.regression.is_(True))
                            .order_by(Reply.received_at.desc(), Reply.id.desc()).limit(LATEST_SHOWN))
    return Regression(incident_id, incident.title, incident.owner_email, subscribers,
                      tuple(excerpt(text) for text in texts))


def regressions_to_tell(session: Session, now: datetime) -> list[Regression]:
    """Incidents with regressions their owner has not heard of: one each, however many replies; marked told."""
    untold = list(session.scalars(select(Reply).where(Reply.regression.is_(True), Reply.owner_told_at.is_(None))))
    for reply in untold:
        reply.owner_told_at = now
    counts = _since_resolution(session, sorted({reply.incident_id for reply in untold}))
    return [_regression(session, incident_id, count) for incident_id, count in sorted(counts.items())]


def of_incident(session: Session, incident_id: str) -> IncidentReplies:
    """How many replies an incident has, how many say it still fails, and the latest few."""
    count, still_fails = session.execute(
        select(func.count(), func.count().filter(Reply.classification == ReplyMeaning.STILL_FAILS.value))
        .where(Reply.incident_id == incident_id)).one()
    latest = list(session.scalars(select(Reply).where(Reply.incident_id == incident_id)
                                  .order_by(Reply.received_at.desc(), Reply.id.desc()).limit(LATEST_SHOWN)))
    return IncidentReplies(count or 0, still_fails or 0, latest)


def received_since(session: Session, since: datetime) -> int:
    return session.scalar(select(func.count()).where(Reply.received_at >= since)) or 0


def status_line(session: Session, now: datetime, window: timedelta = timedelta(hours=24)) -> tuple[bool, str]:
    """For `broadcaster status`: (healthy, detail). Unhealthy while a resolved incident is said to still fail."""
    recent = received_since(session, now - window)
    waiting = pending_regressions(session)
    head = f"{recent} in the last 24 h"
    if not waiting:
        return True, f"{head}; none says a resolved incident still fails"
    said = ", ".join(f"{r.incident_id} ({r.subscribers})" for r in waiting)
    return False, f"{head}; subscribers say these resolved incidents still fail: {said}; `broadcaster triage` shows them"
