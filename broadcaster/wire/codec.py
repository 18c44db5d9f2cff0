"""Events to and from the JSON documents that ``schemas/`` describes.

``decode_*`` functions take raw bytes from a topic and either return a domain event
or raise :class:`InvalidMessage` with a reason a person can act on.
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from broadcaster.domain import input_rules as rules
from broadcaster.domain.events import (
    BugReportReceived,
    CadenceChanged,
    DeliveriesQueued,
    FanOutJob,
    FanOutPage,
    HoldingUpdateDue,
    IncidentDeclared,
    IncidentEvent,
    IncidentNoted,
    IncidentReopened,
    IncidentResolved,
    IncidentUpdated,
    UpdatePublished,
)
from broadcaster.domain.input_rules import InvalidInput
from broadcaster.wire.errors import InvalidMessage
from broadcaster.wire.schemas import validate

P = ParamSpec("P")
R = TypeVar("R")
PROMISE_HORIZON = timedelta(days=366)


def _refusing(decode: Callable[P, R]) -> Callable[P, R]:
    """Turn a broken input rule into the InvalidMessage every processor dead-letters."""

    @wraps(decode)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return decode(*args, **kwargs)
        except InvalidInput as error:
            raise InvalidMessage(str(error)) from None

    return checked


def _time(value: str, field: str = "time", *, future: timedelta = rules.FUTURE_SLACK) -> datetime:
    """An aware date-time within the input rules' range (``future`` past now at most)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidMessage(f"{field}: is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise InvalidMessage(f"{field}: has no time zone; add Z or an offset")
    try:
        moment = parsed.astimezone(UTC)
    except OverflowError:
        raise InvalidMessage(f"{field}: out of range") from None
    return rules.moment(moment, field, future=future)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _load(raw: bytes | None, expected_types: frozenset[str]) -> dict[str, Any]:
    """The message as a valid document: size first, then JSON, then its schema."""
    if raw is None:
        raise InvalidMessage("message has no value")
    if len(raw) > rules.MAX_MESSAGE_BYTES:
        raise InvalidMessage(f"message is {len(raw):,} bytes; the limit is {rules.MAX_MESSAGE_BYTES:,}")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidMessage(f"not JSON: {error}") from None
    except RecursionError:
        raise InvalidMessage("not JSON we accept: nested too deeply") from None
    except ValueError:  # an integer of thousands of digits
        raise InvalidMessage("not JSON we accept: a number too long to read") from None
    return validate(document, expected_types)


def _dump(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


# Bug reports ---------------------------------------------------------------


def _present(**optional: object) -> dict[str, object]:
    """The optional fields that are set: fields added to a v1 schema in place appear only when used."""
    return {name: value for name, value in optional.items() if value is not None}


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
            **_present(time_zone=report.time_zone, locale=report.locale),
        }
    )


@_refusing
def decode_bug_report(raw: bytes | None) -> BugReportReceived:
    doc = _load(raw, frozenset({"bug_report.received"}))
    return BugReportReceived(
        report_id=rules.line(doc["report_id"], "report_id", max_length=64),
        received_at=_time(doc["received_at"], "received_at"),
        email=rules.email(doc["reporter"]["email"], "reporter/email"),
        name=rules.name(doc["reporter"]["name"], "reporter/name"),
        text=rules.text(doc["text"], "text", max_length=rules.MAX_TEXT, multiline=True),
        component=rules.optional_line(doc.get("component"), "component"),
        source=rules.optional_line(doc.get("source"), "source", max_length=64) or "unknown",
        time_zone=rules.time_zone(doc.get("time_zone")),
        locale=rules.locale(doc.get("locale")),
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
                "private": event.private,
                **_present(communicator=event.communicator, second_owner=event.second_owner),
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
        case IncidentReopened():
            body = {
                "type": "incident.reopened",
                "message": event.message,
                "status": event.status,
                "next_update_at": _iso(event.next_update_at),
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
        case IncidentNoted():
            body = {"type": "incident.noted", "message": event.message, "shareable": event.shareable}
    return _dump(common | body)


def _seconds(delta: timedelta | None) -> int | None:
    return int(delta.total_seconds()) if delta is not None else None


def _delta(seconds: int | None) -> timedelta | None:
    return timedelta(seconds=seconds) if seconds is not None else None


def _ids(doc: dict[str, Any]) -> tuple[str, str, datetime]:
    return (rules.line(doc["event_id"], "event_id", max_length=rules.MAX_LABEL),
            rules.line(doc["incident_id"], "incident_id", max_length=rules.MAX_LABEL),
            _time(doc["occurred_at"], "occurred_at"))


def _message(doc: dict[str, Any], field: str, *, required: bool) -> str:
    return rules.text(doc.get(field, ""), field, max_length=rules.MAX_MESSAGE, multiline=True, required=required)


def _promise(value: str, field: str = "next_update_at") -> datetime:
    return _time(value, field, future=PROMISE_HORIZON)


def _optional_email(doc: dict[str, Any], field: str) -> str | None:
    value = doc.get(field)
    return rules.email(value, field) if value is not None else None


def _declared(doc: dict[str, Any]) -> IncidentDeclared:
    return IncidentDeclared(
        *_ids(doc),
        title=rules.line(doc["title"], "title", max_length=rules.MAX_TITLE),
        component=rules.optional_line(doc.get("component"), "component"),
        severity=doc["severity"],
        next_update_at=_promise(doc["next_update_at"]),
        match=tuple(rules.line(phrase, "match", max_length=rules.MAX_LABEL) for phrase in doc.get("match", ())),
        description=_message(doc, "description", required=False),
        workaround=_message(doc, "workaround", required=False),
        update_every=_delta(doc.get("update_every_seconds")),
        owner=_optional_email(doc, "owner"),
        holding_updates=doc.get("holding_updates", True),
        private=doc.get("private", False),
        communicator=rules.optional_line(doc.get("communicator"), "communicator", max_length=rules.MAX_NAME),
        second_owner=_optional_email(doc, "second_owner"),
    )


def _updated(doc: dict[str, Any]) -> IncidentUpdated:
    return IncidentUpdated(
        *_ids(doc),
        message=_message(doc, "message", required=True),
        next_update_at=_promise(doc["next_update_at"]),
        status=doc.get("status"),
    )


def _resolved(doc: dict[str, Any]) -> IncidentResolved:
    return IncidentResolved(
        *_ids(doc),
        message=_message(doc, "message", required=True),
        how_to_verify=_message(doc, "how_to_verify", required=False),
    )


def _reopened(doc: dict[str, Any]) -> IncidentReopened:
    return IncidentReopened(
        *_ids(doc),
        message=_message(doc, "message", required=True),
        next_update_at=_promise(doc["next_update_at"]),
        status=doc["status"],
    )


def _cadence_changed(doc: dict[str, Any]) -> CadenceChanged:
    next_update_at = doc.get("next_update_at")
    return CadenceChanged(
        *_ids(doc),
        update_every=_delta(doc.get("update_every_seconds")),
        next_update_at=_promise(next_update_at) if next_update_at else None,
        holding_updates=doc.get("holding_updates"),
    )


def _holding_due(doc: dict[str, Any]) -> HoldingUpdateDue:
    return HoldingUpdateDue(*_ids(doc), missed_promise_at=_promise(doc["missed_promise_at"], "missed_promise_at"))


def _noted(doc: dict[str, Any]) -> IncidentNoted:
    return IncidentNoted(*_ids(doc), message=_message(doc, "message", required=True),
                         shareable=doc.get("shareable", False))


_INCIDENT_DECODERS: dict[str, Callable[[dict[str, Any]], IncidentEvent]] = {
    "incident.declared": _declared,
    "incident.updated": _updated,
    "incident.resolved": _resolved,
    "incident.reopened": _reopened,
    "incident.cadence_changed": _cadence_changed,
    "incident.holding_update_due": _holding_due,
    "incident.noted": _noted,
}


@_refusing
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


def encode_fan_out_page(job: FanOutPage) -> bytes:
    return _dump({"type": "notification.fan_out_page", "version": 1, "incident_id": job.incident_id,
                  "update_id": job.update_id, "page": job.page, "after_subscriber_id": job.after_subscriber_id,
                  "through_subscriber_id": job.through_subscriber_id})


def decode_fan_out_job(raw: bytes | None) -> FanOutJob:
    """What the fan-out processor reads: a whole update to split into pages, or one page of it."""
    doc = _load(raw, frozenset({"notification.update_published", "notification.fan_out_page"}))
    if doc["type"] == "notification.update_published":
        return UpdatePublished(incident_id=doc["incident_id"], update_id=doc["update_id"])
    return FanOutPage(doc["incident_id"], doc["update_id"], doc["page"], doc["after_subscriber_id"],
                      doc["through_subscriber_id"])


def encode_deliveries_queued(job: DeliveriesQueued) -> bytes:
    return _dump({"type": "delivery.queued", "version": 1, "delivery_ids": list(job.delivery_ids)})


def decode_deliveries_queued(raw: bytes | None) -> DeliveriesQueued:
    doc = _load(raw, frozenset({"delivery.queued"}))
    return DeliveriesQueued(delivery_ids=tuple(doc["delivery_ids"]))
