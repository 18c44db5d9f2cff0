"""The engineers' commands, as functions the CLI, the demo and scripts all call (with a :class:`Desk`)."""

import uuid
from datetime import timedelta
from typing import TypeVar, cast

from broadcaster.domain.events import (
    BugReportReceived,
    CadenceChanged,
    HoldingUpdateDue,
    IncidentDeclared,
    IncidentEvent,
    IncidentNoted,
    IncidentReopened,
    IncidentResolved,
    IncidentUpdated,
)
from broadcaster.domain.incidents import holding_event_id, new_incident_id, next_update_due
from broadcaster.services.desk import Desk
from broadcaster.services.errors import CommandFailed
from broadcaster.storage.database import transaction
from broadcaster.storage.models import Incident, IncidentNote, IncidentUpdate

E = TypeVar("E", bound=IncidentEvent)


def _event_id() -> str:
    return uuid.uuid4().hex


def submit_report(
    desk: Desk, email: str, name: str, text: str, component: str | None, source: str = "cli",
    time_zone: str | None = None, locale: str | None = None,
) -> BugReportReceived:
    """Publish a bug report, checked against its schema first (raises InvalidMessage)."""
    event = BugReportReceived(
        report_id=f"r-{uuid.uuid4().hex}", received_at=desk.services.clock(),
        email=email.strip().lower(), name=name.strip(), text=text, component=component, source=source,
        time_zone=time_zone, locale=locale,
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
    holding_updates: bool = True, private: bool = False, communicator: str | None = None,
    second_owner: str | None = None,
) -> IncidentDeclared:
    """Declare an incident; its emails are signed by ``communicator``, else by one of the roster setting's people."""
    now = desk.services.clock()
    cadence = next_update_in or desk.settings.default_cadence(severity)
    incident_id = new_incident_id(now)
    event = IncidentDeclared(
        event_id=_event_id(), incident_id=incident_id, occurred_at=now, title=title,
        component=component, severity=severity, next_update_at=next_update_due(now, cadence), match=phrases,
        description=description, workaround=workaround, update_every=cadence, owner=owner,
        holding_updates=holding_updates, private=private,
        communicator=communicator or desk.services.sender.signer(incident_id),
        second_owner=second_owner or desk.settings.second_owner,
    )
    return _publish_incident_event(desk, event)


def post_update(
    desk: Desk, incident_id: str, message: str, *, update_every: timedelta, status: str | None,
    next_update_in: timedelta | None,
) -> IncidentUpdated:
    """Post progress; the next promise is ``next_update_in`` from now, else the incident's cadence."""
    now = desk.services.clock()
    cadence = next_update_in or update_every
    event = IncidentUpdated(_event_id(), incident_id, now, message, next_update_due(now, cadence), status)
    return _publish_incident_event(desk, event)


def change_cadence(
    desk: Desk, incident_id: str, *, update_every: timedelta | None, next_update_in: timedelta | None,
    holding_updates: bool | None,
) -> CadenceChanged:
    now = desk.services.clock()
    next_update_at = next_update_due(now, next_update_in) if next_update_in else None
    event = CadenceChanged(_event_id(), incident_id, now, update_every, next_update_at, holding_updates)
    return _publish_incident_event(desk, event)


def resolve_incident(desk: Desk, incident_id: str, message: str, how_to_verify: str) -> IncidentResolved:
    event = IncidentResolved(_event_id(), incident_id, desk.services.clock(), message, how_to_verify)
    return _publish_incident_event(desk, event)


def request_holding_update(desk: Desk, incident_id: str) -> HoldingUpdateDue:
    """Ask for the holding update the cadence timer asks for once a promise is missed (the demo plays the timer)."""
    promised = desk.read(lambda session: session.get_one(Incident, incident_id).next_update_at)
    now = desk.services.clock()
    event = HoldingUpdateDue(holding_event_id(incident_id, promised), incident_id, now, promised)
    return _publish_incident_event(desk, event)


def reopen_incident(
    desk: Desk, incident_id: str, message: str, *, status: str, next_update_in: timedelta,
) -> IncidentReopened:
    """Reopen a resolved incident: every subscriber hears it is not fixed, what is done now and when news comes."""
    now = desk.services.clock()
    event = IncidentReopened(_event_id(), incident_id, now, message, next_update_due(now, next_update_in), status)
    return _publish_incident_event(desk, event)


def add_note(desk: Desk, incident_id: str, message: str, *, shareable: bool) -> IncidentNoted:
    """Keep an internal note with the incident; a ``shareable`` one is what the next holding update quotes."""
    event = IncidentNoted(_event_id(), incident_id, desk.services.clock(), message, shareable)
    return _publish_incident_event(desk, event)


def close_report(desk: Desk, report_id: str) -> None:
    """Take a report out of triage: its reporter was answered directly, or it needs no answer."""
    from broadcaster.services import triage  # the matcher's modules: only for the commands that decide links

    try:
        with transaction(desk.services.sessions) as session:
            triage.close(session, report_id)
    except triage.TriageError as error:
        raise CommandFailed(str(error)) from None


def wait_until_applied(desk: Desk, event_id: str, timeout: float,
                       kept_in: type[IncidentUpdate | IncidentNote] = IncidentUpdate) -> bool:
    """True once the worker has stored the incident event with this id (as an update, or ``kept_in`` a note)."""
    if timeout <= 0 or desk.broker_unreachable:  # not published yet: nothing to wait for
        return False
    found = desk.wait_for(lambda s: s.query(kept_in.id).filter_by(event_id=event_id).first(), timeout)
    return found is not None
