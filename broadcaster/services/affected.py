"""Adding people the engineers know were affected: a batch at a time, each person once, their first email queued.

One transaction per batch does everything for its people: addresses that get no email
(suppressed) are left out, the rest become subscribers of the incident if they are not
already (the unique key on incident and address absorbs reporters, earlier imports and
repeats of this one), and each new subscriber's first email (the incident's latest
news) goes into the ledger, announced through the outbox in the same commit. So a
person is either fully added, email queued and announcement owed, or not at all: a
crash or a second run of the same file can neither lose nor double anyone's email
(docs/ARCHITECTURE.md, "Affected people").
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.domain.affected import AffectedPerson
from broadcaster.domain.incidents import Status
from broadcaster.domain.notifications import SubscriberSource, kind_for_affected
from broadcaster.services import ledger, outbox
from broadcaster.services.subscriptions import latest_update
from broadcaster.storage.models import Incident, Subscriber, Suppression
from broadcaster.storage.upsert import among, inserted_ids


@dataclass(frozen=True)
class BatchAdded:
    """What one batch did: how many were added, already there, suppressed; the last outbox message it owes."""

    added: int
    already_subscribed: int
    suppressed: int
    last_message_id: int | None


def add_batch(
    session: Session, incident: Incident, people: Sequence[AffectedPerson], *, deliveries_topic: str, now: datetime
) -> BatchAdded:
    """Subscribe ``people`` to ``incident`` and queue each new one's first email (see the module docstring)."""
    unique = list({p.email: p for p in people}.values())  # a repeat within the batch is "already subscribed"
    suppressed = set(session.scalars(select(Suppression.email).where(among(session, Suppression.email,
                                                                            [p.email for p in unique]))))
    wanted = [p for p in unique if p.email not in suppressed]
    rows = [{"incident_id": incident.id, "email": p.email, "name": p.name, "first_report_id": None,
             "subscribed_at": now, "source": SubscriberSource.AFFECTED, "time_zone": p.time_zone, "locale": p.locale}
            for p in wanted]
    new_ids = inserted_ids(session, Subscriber, rows, unique=("incident_id", "email"))
    last_message_id = None
    if new_ids:
        update = latest_update(session, incident.id)
        kind = kind_for_affected(incident.status != Status.RESOLVED)
        queued = ledger.queue(session, [ledger.Wanted(update.id, s, kind) for s in new_ids], now=now)
        for key, value in ledger.announcements(queued):
            last_message_id = outbox.add(session, deliveries_topic, key.encode(), value, now)
    return BatchAdded(len(new_ids), len(people) - len(new_ids) - sum(p.email in suppressed for p in people),
                      sum(p.email in suppressed for p in people), last_message_id)
