"""The intake API's work, apart from HTTP: check a posted report, accept it once, say what became of it.

A report is checked field by field with the input rules (so a refusal names every bad
field), then built into the event and passed through the codec's encode and decode, as
every other entrance does (services/commands.py ``submit_report``). Accepting commits
the outbox row and the intake row in one transaction: "accepted" means both are
durable, and the intake row's unique keys turn a repeated request into a look-up of the
first one's report.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from broadcaster.domain import input_rules as rules
from broadcaster.domain.events import BugReportReceived
from broadcaster.services import outbox
from broadcaster.storage.database import transaction
from broadcaster.storage.models import IntakeRequest, Report
from broadcaster.wire.errors import InvalidMessage

FIELDS = frozenset({"report_id", "reporter", "text", "component", "time_zone", "locale"})
SOURCE = "api"


class InvalidReport(ValueError):
    """Every problem found, as (field, problem) pairs; no value is ever quoted."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {problem}" for field, problem in problems))
        self.problems = problems


@dataclass(frozen=True)
class Accepted:
    report_id: str
    message_id: int | None  # None: a repeat of an earlier request, nothing new to publish


def check_report(document: Any, now: datetime, source: str = SOURCE) -> BugReportReceived:
    """The event a posted body describes, checked by the rules every entrance applies, or InvalidReport."""
    if not isinstance(document, dict):
        raise InvalidReport([("(body)", "must be a JSON object")])
    problems = [(_shown(field), "is not a field of a report (the server sets received_at and source)")
                for field in document if field not in FIELDS]
    reporter = document.get("reporter")
    if not isinstance(reporter, dict):
        reporter = {}
        problems.append(("reporter", "must be an object with email and name"))
    checked = {
        "report_id": _field(problems, rules.line, document.get("report_id", f"r-{uuid.uuid4().hex}"), "report_id",
                            max_length=64),
        "email": _field(problems, rules.email, reporter.get("email"), "reporter/email"),
        "name": _field(problems, rules.name, reporter.get("name"), "reporter/name"),
        "text": _field(problems, rules.text, document.get("text"), "text", max_length=rules.MAX_TEXT, multiline=True),
        "component": _field(problems, rules.optional_line, document.get("component"), "component"),
        "time_zone": _field(problems, rules.time_zone, document.get("time_zone"), "time_zone"),
        "locale": _field(problems, rules.locale, document.get("locale"), "locale"),
    }
    if problems:
        raise InvalidReport(problems)
    return _through_the_codec(BugReportReceived(received_at=now, source=source, **checked))


def _shown(field: str) -> str:
    """A field name the client sent, safe to send back: short, and ASCII (a lone surrogate cannot be encoded)."""
    return field[:64].encode("ascii", "backslashreplace").decode()


def _field(problems: list[tuple[str, str]], rule: Any, value: Any, field: str, **limits: Any) -> Any:
    try:
        return rule(value, field, **limits)
    except rules.InvalidInput as error:
        problems.append((error.field, error.problem))
        return None


def _through_the_codec(event: BugReportReceived) -> BugReportReceived:
    from broadcaster.wire.codec import decode_bug_report, encode_bug_report

    try:
        return decode_bug_report(encode_bug_report(event))
    except InvalidMessage as error:
        raise InvalidReport([("(report)", str(error))]) from None


def accept(
    sessions: sessionmaker[Session], topic: str, event: BugReportReceived, *, api_key_id: int | None,
    idempotency_key: str | None, client_chose_id: bool, now: datetime, desk: str | None = None,
    ticket_url: str | None = None,
) -> Accepted:
    """Commit the report to the outbox once per idempotency key (or client-chosen report id).

    Either an API key's request, or (``desk`` set, no API key) a support desk's webhook,
    whose idempotency key is the desk's ticket id.
    """
    owner = (IntakeRequest.desk == desk) if desk is not None else (IntakeRequest.api_key_id == api_key_id)
    if earlier := _earlier(sessions, owner, idempotency_key, event.report_id if client_chose_id else None):
        return Accepted(earlier, None)
    from broadcaster.wire.codec import encode_bug_report

    try:
        with transaction(sessions) as session:
            session.add(IntakeRequest(api_key_id=api_key_id, desk=desk, ticket_url=ticket_url,
                                      idempotency_key=idempotency_key, report_id=event.report_id, accepted_at=now))
            message_id = outbox.add(session, topic, event.email.encode(), encode_bug_report(event), now)
    except IntegrityError:  # the same request, accepted by another request in the meantime
        earlier = _earlier(sessions, owner, idempotency_key, event.report_id)
        if earlier is None:
            raise
        return Accepted(earlier, None)
    return Accepted(event.report_id, message_id)


def _earlier(sessions: sessionmaker[Session], owner: ColumnElement[bool], idempotency_key: str | None,
             report_id: str | None) -> str | None:
    """The report an earlier request with this idempotency key or report id produced."""
    if idempotency_key is None and report_id is None:
        return None
    matches = [IntakeRequest.idempotency_key == idempotency_key] if idempotency_key is not None else []
    matches += [IntakeRequest.report_id == report_id] if report_id is not None else []
    with sessions() as session:
        query = select(IntakeRequest.report_id).where(owner, or_(*matches))
        return session.scalars(query.order_by(IntakeRequest.id).limit(1)).first()


def status(sessions: sessionmaker[Session], report_id: str) -> dict[str, Any] | None:
    """What became of a report: received (not processed yet), linked, suggested or unlinked; None if unknown."""
    with sessions() as session:
        report = session.get(Report, report_id)
        if report is not None:
            incident = report.incident_id if report.link_state == "linked" else report.candidate_incident_id
            return {"report_id": report_id, "state": report.link_state, "incident_id": incident,
                    "received_at": report.received_at.isoformat()}
        accepted = session.scalars(select(IntakeRequest.accepted_at).where(IntakeRequest.report_id == report_id)).first()
    if accepted is None:
        return None
    return {"report_id": report_id, "state": "received", "incident_id": None, "received_at": accepted.isoformat()}
