"""The engineers' commands, as functions the CLI, the demo and scripts all call (with a :class:`Desk`)."""

import uuid
from datetime import timedelta
from typing import TypeVar, cast

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
from broadcaster.storage.models import IncidentUpdate

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
