"""Events to and from the JSON documents that ``schemas/`` describes.

``decode_*`` functions take raw bytes from a topic and either return a domain event
or raise :class:`InvalidMessage` with a reason a person can act on.
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from broadcaster.domain.events import (
    BugReportReceived,
    CadenceChanged,
    HoldingUpdateDue,
    DeliveriesQueued,
    IncidentDeclared,
    IncidentEvent,
    IncidentResolved,
    IncidentUpdated,
    UpdatePublished,
)
from broadcaster.wire.errors import InvalidMessage
from broadcaster.wire.schemas import validate


def _time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidMessage(f"{value!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise InvalidMessage(f"{value!r} has no time zone; add Z or an offset")
    return parsed.astimezone(UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _load(raw: bytes | None, expected_types: frozenset[str]) -> dict[str, Any]:
    if raw is None:
        raise InvalidMessage("message has no value")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidMessage(f"not JSON: {error}") from None
    return validate(document, expected_types)


def _dump(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


# Bug reports ---------------------------------------------------------------


def encode_bug_report(report: BugReportReceived) -> bytes:
    return _dump(
        {
            "type": "bug_report.received",
            "version": 1,
            "report_id": report.report_id,
            "received_at": _iso(report.received_at),
            "reporter": {"email": report.email, "name": report.name},
            "text": report.text,
            "component": report.component,
            "source": report.source,
        }
    )


def decode_bug_report(raw: bytes | None) -> BugReportReceived:
    doc = _load(raw, frozenset({"bug_report.received"}))
    return BugReportReceived(
        report_id=doc["report_id"],
        received_at=_time(doc["received_at"]),
        email=doc["reporter"]["email"].strip().lower(),
        name=doc["reporter"]["name"].strip(),
        text=doc["text"],
        component=doc.get("component"),
        source=doc.get("source", "unknown"),
    )


# Incident events -----------------------------------------------------------


def encode_incident_event(event: IncidentEvent) -> bytes:
    common = {
        "version": 1,
        "event_id": event.event_id,
        "incident_id": event.incident_id,
        "occurred_at": _iso(event.occurred_at),
    }
    match event:
        case IncidentDeclared():
            body = {
                "type": "incident.declared",
                "title": event.title,
                "component": event.component,
                "severity": event.severity,
                "match": list(event.match),
                "description": event.description,
                "workaround": event.workaround,
                "next_update_at": _iso(event.next_update_at),
                "update_every_seconds": _seconds(event.update_every),
                "owner": event.owner,
                "holding_updates": event.holding_updates,
            }
        case IncidentUpdated():
            body = {
                "type": "incident.updated",
                "message": event.message,
                "status": event.status,
                "next_update_at": _iso(event.next_update_at),
            }
        case IncidentResolved():
            body = {
                "type": "incident.resolved",
                "message": event.message,
                "how_to_verify": event.how_to_verify,
            }
        case CadenceChanged():
            body = {
                "type": "incident.cadence_changed",
                "update_every_seconds": _seconds(event.update_every),
                "next_update_at": _iso(event.next_update_at) if event.next_update_at else None,
                "holding_updates": event.holding_updates,
            }
        case HoldingUpdateDue():
            body = {"type": "incident.holding_update_due", "missed_promise_at": _iso(event.missed_promise_at)}
    return _dump(common | body)


def _seconds(delta: timedelta | None) -> int | None:
    return int(delta.total_seconds()) if delta is not None else None


def _delta(seconds: int | None) -> timedelta | None:
    return timedelta(seconds=seconds) if seconds is not None else None


def _declared(doc: dict[str, Any]) -> IncidentDeclared:
    return IncidentDeclared(
        event_id=doc["event_id"],
        incident_id=doc["incident_id"],
        occurred_at=_time(doc["occurred_at"]),
        title=doc["title"],
        component=doc.get("component"),
        severity=doc["severity"],
        next_update_at=_time(doc["next_update_at"]),
        match=tuple(doc.get("match", ())),
        description=doc.get("description", ""),
        workaround=doc.get("workaround", ""),
        update_every=_delta(doc.get("update_every_seconds")),
        owner=doc.get("owner"),
        holding_updates=doc.get("holding_updates", True),
    )


def _updated(doc: dict[str, Any]) -> IncidentUpdated:
    return IncidentUpdated(
        event_id=doc["event_id"],
        incident_id=doc["incident_id"],
        occurred_at=_time(doc["occurred_at"]),
        message=doc["message"],
        next_update_at=_time(doc["next_update_at"]),
        status=doc.get("status"),
    )


def _resolved(doc: dict[str, Any]) -> IncidentResolved:
    return IncidentResolved(
        event_id=doc["event_id"],
        incident_id=doc["incident_id"],
        occurred_at=_time(doc["occurred_at"]),
        message=doc["message"],
        how_to_verify=doc.get("how_to_verify", ""),
    )


def _cadence_changed(doc: dict[str, Any]) -> CadenceChanged:
    next_update_at = doc.get("next_update_at")
    return CadenceChanged(
        event_id=doc["event_id"],
        incident_id=doc["incident_id"],
        occurred_at=_time(doc["occurred_at"]),
        update_every=_delta(doc.get("update_every_seconds")),
        next_update_at=_time(next_update_at) if next_update_at else None,
        holding_updates=doc.get("holding_updates"),
    )


def _holding_due(doc: dict[str, Any]) -> HoldingUpdateDue:
    return HoldingUpdateDue(
        event_id=doc["event_id"],
        incident_id=doc["incident_id"],
        occurred_at=_time(doc["occurred_at"]),
        missed_promise_at=_time(doc["missed_promise_at"]),
    )


_INCIDENT_DECODERS: dict[str, Callable[[dict[str, Any]], IncidentEvent]] = {
    "incident.declared": _declared,
    "incident.updated": _updated,
    "incident.resolved": _resolved,
    "incident.cadence_changed": _cadence_changed,
    "incident.holding_update_due": _holding_due,
}


def decode_incident_event(raw: bytes | None) -> IncidentEvent:
    doc = _load(raw, frozenset(_INCIDENT_DECODERS))
    return _INCIDENT_DECODERS[doc["type"]](doc)


# Internal jobs -------------------------------------------------------------


def encode_update_published(job: UpdatePublished) -> bytes:
    return _dump(
        {
            "type": "notification.update_published",
            "version": 1,
            "incident_id": job.incident_id,
            "update_id": job.update_id,
        }
    )


def decode_update_published(raw: bytes | None) -> UpdatePublished:
    doc = _load(raw, frozenset({"notification.update_published"}))
    return UpdatePublished(incident_id=doc["incident_id"], update_id=doc["update_id"])


def encode_deliveries_queued(job: DeliveriesQueued) -> bytes:
    return _dump({"type": "delivery.queued", "version": 1, "delivery_ids": list(job.delivery_ids)})


def decode_deliveries_queued(raw: bytes | None) -> DeliveriesQueued:
    doc = _load(raw, frozenset({"delivery.queued"}))
    return DeliveriesQueued(delivery_ids=tuple(doc["delivery_ids"]))
