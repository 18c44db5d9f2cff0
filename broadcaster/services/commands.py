"""The engineers' commands, as functions the CLI, the demo and scripts all call (with a :class:`Desk`)."""

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar, cast

from broadcaster.domain.affected import AffectedPerson, RefusedRow, read_people
from broadcaster.domain.events import (
    BugReportReceived,
    CadenceChanged,
    IncidentDeclared,
    IncidentEvent,
    IncidentResolved,
    IncidentUpdated,
)
from broadcaster.domain.incidents import new_incident_id
from broadcaster.services.desk import Desk
from broadcaster.services.errors import CommandFailed
from broadcaster.storage.models import Incident, IncidentUpdate

E = TypeVar("E", bound=IncidentEvent)


def _event_id() -> str:
    return uuid.uuid4().hex


def submit_report(
    desk: Desk, email: str, name: str, text: str, component: str | None, source: str = "cli"
) -> BugReportReceived:
    """Publish a bug report, checked against its schema first (raises InvalidMessage)."""
    event = BugReportReceived(
        report_id=f"r-{uuid.uuid4().hex}", received_at=desk.services.clock(),
        email=email.strip().lower(), name=name.strip(), text=text, component=component, source=source,
    )
    from broadcaster.wire.codec import decode_bug_report, encode_bug_report  # jsonschema: only where it checks

    value = encode_bug_report(event)
    checked = decode_bug_report(value)  # the same rules the processor applies, before anything is sent
    desk.publish(desk.topics.bug_reports, checked.email, value)
    return checked


def _publish_incident_event(desk: Desk, event: E) -> E:
    """Publish ``event`` if it passes the rules the processor applies (raises InvalidMessage); return it as checked."""
    from broadcaster.wire.codec import decode_incident_event, encode_incident_event  # jsonschema: only where it checks

    value = encode_incident_event(event)
    checked = decode_incident_event(value)
    desk.publish(desk.topics.incident_events, event.incident_id, value)
    return cast(E, checked)


def declare_incident(
    desk: Desk, title: str, *, component: str | None, phrases: tuple[str, ...], severity: str,
    description: str, workaround: str, next_update_in: timedelta | None, owner: str | None = None,
    holding_updates: bool = True,
) -> IncidentDeclared:
    now = desk.services.clock()
    cadence = next_update_in or desk.settings.default_cadence(severity)
    event = IncidentDeclared(
        event_id=_event_id(), incident_id=new_incident_id(now), occurred_at=now, title=title,
        component=component, severity=severity, next_update_at=now + cadence, match=phrases,
        description=description, workaround=workaround, update_every=cadence, owner=owner,
        holding_updates=holding_updates,
    )
    return _publish_incident_event(desk, event)


def post_update(
    desk: Desk, incident_id: str, message: str, *, update_every: timedelta, status: str | None,
    next_update_in: timedelta | None,
) -> IncidentUpdated:
    """Post progress; the next promise is ``next_update_in`` from now, else the incident's cadence."""
    now = desk.services.clock()
    cadence = next_update_in or update_every
    event = IncidentUpdated(_event_id(), incident_id, now, message, now + cadence, status)
    return _publish_incident_event(desk, event)


def change_cadence(
    desk: Desk, incident_id: str, *, update_every: timedelta | None, next_update_in: timedelta | None,
    holding_updates: bool | None,
) -> CadenceChanged:
    now = desk.services.clock()
    next_update_at = now + next_update_in if next_update_in else None
    event = CadenceChanged(_event_id(), incident_id, now, update_every, next_update_at, holding_updates)
    return _publish_incident_event(desk, event)


def resolve_incident(desk: Desk, incident_id: str, message: str, how_to_verify: str) -> IncidentResolved:
    event = IncidentResolved(_event_id(), incident_id, desk.services.clock(), message, how_to_verify)
    return _publish_incident_event(desk, event)


def wait_until_applied(desk: Desk, event_id: str, timeout: float) -> bool:
    """True once the worker has stored the incident event with this id."""
    if timeout <= 0 or desk.broker_unreachable:  # not published yet: nothing to wait for
        return False
    found = desk.wait_for(lambda s: s.query(IncidentUpdate.id).filter_by(event_id=event_id).first(), timeout)
    return found is not None


@dataclass
class AffectedImport:
    """What `incident affected` did, for its summary."""

    added: int = 0
    already_subscribed: int = 0
    suppressed: int = 0
    refused: int = 0
    lines: int = 0  # the last line read


def add_affected(
    desk: Desk, incident_id: str, lines: Iterable[str], *, batch_size: int = 1000,
    on_refused: Callable[[RefusedRow], None], on_batch: Callable[[AffectedImport], None] = lambda _tally: None,
) -> AffectedImport:
    """Add the people of a CSV (``lines``) to ``incident_id``, a committed batch at a time (services/affected.py).

    Raises BadHeader before anything is written when the header is wrong, CommandFailed for an
    unknown incident. The first emails' announcements are published at most once a second
    while the import runs, and at the end; what the broker does not take, the relay publishes.
    """
    from broadcaster.services import accepting
    from broadcaster.services.affected import add_batch

    incident = desk.read(lambda s: s.get(Incident, incident_id))
    if incident is None:
        raise CommandFailed(f"no incident {incident_id}; `broadcaster incident list` shows them")
    tally, owed, published_at = AffectedImport(), None, time.monotonic()
    def refused(row: RefusedRow) -> None:
        tally.refused += 1
        on_refused(row)

    for batch in _batches(read_people(lines), batch_size, refused):
        added = accepting.commit(desk.services, lambda s, b=batch: add_batch(  # type: ignore[misc]
            s, s.get_one(Incident, incident_id), b, deliveries_topic=desk.topics.deliveries, now=desk.services.clock()))
        tally.added += added.added
        tally.already_subscribed += added.already_subscribed
        tally.suppressed += added.suppressed
        tally.lines = batch[-1].line
        owed = added.last_message_id or owed
        if owed is not None and time.monotonic() - published_at >= 1.0:
            desk.publish_owed(owed)
            owed, published_at = None, time.monotonic()
        on_batch(tally)
    if owed is not None:
        desk.publish_owed(owed)
    return tally


def _batches(
    rows: Iterable[AffectedPerson | RefusedRow], size: int, refused: Callable[[RefusedRow], None]
) -> Iterator[list[AffectedPerson]]:
    """The valid people in lists of ``size``; each refused row is handed to ``refused`` as it comes."""
    batch: list[AffectedPerson] = []
    for row in rows:
        if isinstance(row, RefusedRow):
            refused(row)
            continue
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
