"""The intake API's work, apart from HTTP: check a posted report, accept it once, say what became of it.

A report is checked field by field with the input rules (so a refusal names every bad
field) and built into the event. Those are the rules the bug-reports processor applies
when it decodes, and they are at least as strict as the message's schema, so what is
accepted decodes downstream to the same report (tests/unit/test_intake_check.py): running
the decoder here as well cost more than the rest of the request. Accepting commits the
outbox row and the intake row in one transaction, for one request or for all those that
arrived together (broadcaster/intake/committing.py): "accepted" means both are durable,
and the intake row's unique keys turn a repeated request into a look-up of the first
one's report.
"""

import os
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from broadcaster.domain import input_rules as rules
from broadcaster.domain.events import BugReportReceived
from broadcaster.services import outbox
from broadcaster.storage.database import transaction
from broadcaster.storage.models import Incident, IntakeRequest, Report

UNSTORED = 1 << 62  # ranks a request of this batch after every stored one
FIELDS = frozenset({"report_id", "reporter", "text", "component", "time_zone", "locale"})
SOURCE = "api"


class _ReportIds:
    """Random report ids (128 bits from the system's randomness), drawn 256 at a time.

    Each ``os.urandom`` call lets go of the GIL, and the event loop then waits behind the
    intake's writer and publishing threads to get it back: one call per request
    (``uuid4``) was the top line of the serve process's wall-clock profile.
    """

    BATCH = 256

    def __init__(self) -> None:
        self._lock, self._pool, self._at = threading.Lock(), b"", 0

    def next(self) -> str:
        with self._lock:
            if self._at == len(self._pool):
                self._pool, self._at = os.urandom(16 * self.BATCH), 0
            chunk, self._at = self._pool[self._at : self._at + 16], self._at + 16
        return f"r-{chunk.hex()}"


new_report_id = _ReportIds().next


class InvalidReport(ValueError):
    """Every problem found, as (field, problem) pairs; no value is ever quoted."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {problem}" for field, problem in problems))
        self.problems = problems


@dataclass(frozen=True)
class Accepted:
    report_id: str
    message_id: int | None  # None: a repeat of an earlier request, nothing new to publish
    taken: bool = False  # refused: the client's chosen report_id is already another client's report


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
    report_id = document["report_id"] if "report_id" in document else new_report_id()
    checked = {
        "report_id": _field(problems, rules.line, report_id, "report_id", max_length=64),
        "email": _field(problems, rules.email, reporter.get("email"), "reporter/email"),
        "name": _field(problems, rules.name, reporter.get("name"), "reporter/name"),
        "text": _field(problems, rules.text, document.get("text"), "text", max_length=rules.MAX_TEXT, multiline=True),
        "component": _field(problems, rules.optional_line, document.get("component"), "component"),
        "time_zone": _field(problems, rules.time_zone, document.get("time_zone"), "time_zone"),
        "locale": _field(problems, rules.locale, document.get("locale"), "locale"),
    }
    if problems:
        raise InvalidReport(problems)
    return BugReportReceived(received_at=now, source=source, **checked)


def _shown(field: str) -> str:
    """A field name the client sent, safe to send back: short, and ASCII (a lone surrogate cannot be encoded)."""
    return field[:64].encode("ascii", "backslashreplace").decode()


def _field(problems: list[tuple[str, str]], rule: Any, value: Any, field: str, **limits: Any) -> Any:
    try:
        return rule(value, field, **limits)
    except rules.InvalidInput as error:
        problems.append((error.field, error.problem))
        return None


Owner = tuple[str, int | str | None]  # ("api_key", its id) or ("desk", its name)
Ask = tuple[Owner, str, str]  # (owner, "key" or "report", value): what makes a request a repeat of another


@dataclass(frozen=True)
class Submission:
    """One request to accept ``event``: an API key's (``api_key_id``) or a support desk's (``desk``, no API key)."""

    event: BugReportReceived
    api_key_id: int | None
    idempotency_key: str | None
    client_chose_id: bool
    now: datetime
    desk: str | None = None
    ticket_url: str | None = None

    @property
    def owner(self) -> Owner:
        """Whose keys these are: an idempotency key or report id repeats only within one owner."""
        return ("desk", self.desk) if self.desk is not None else ("api_key", self.api_key_id)

    def asks_for(self, chosen_ids_only: bool = True) -> list[Ask]:
        """What makes another request a repeat of this one: its idempotency key, its report id if the client chose it."""
        asks: list[Ask] = [(self.owner, "key", self.idempotency_key)] if self.idempotency_key is not None else []
        if self.client_chose_id or not chosen_ids_only:
            asks.append((self.owner, "report", self.event.report_id))
        return asks


def accept(
    sessions: sessionmaker[Session], topic: str, event: BugReportReceived, *, api_key_id: int | None,
    idempotency_key: str | None, client_chose_id: bool, now: datetime, desk: str | None = None,
    ticket_url: str | None = None,
) -> Accepted:
    """Commit the report to the outbox once per idempotency key (or client-chosen report id)."""
    submission = Submission(event, api_key_id, idempotency_key, client_chose_id, now, desk, ticket_url)
    return accept_together(sessions, topic, [submission])[0]


def accept_together(sessions: sessionmaker[Session], topic: str, submissions: list[Submission]) -> list[Accepted]:
    """Accept several requests in one transaction (one commit, one fsync): an answer per submission, in order.

    A repeat, of an earlier request or of one before it in ``submissions``, gets the first
    one's report and adds nothing. If another process accepted one of them meanwhile
    (a unique key refuses the commit), each is accepted again on its own, which finds it.
    """
    earlier, owners = _earlier(sessions, [ask for s in submissions for ask in s.asks_for()])
    answers: list[Accepted | None] = []
    fresh: dict[int, Submission] = {}
    for index, submission in enumerate(submissions):
        if first := _first(earlier, submission.asks_for()):
            answers.append(Accepted(first, None))
            continue
        owner = owners.setdefault(submission.event.report_id, submission.owner)
        if submission.client_chose_id and owner != submission.owner:
            answers.append(Accepted(submission.event.report_id, None, taken=True))
            continue
        answers.append(None)
        fresh[index] = submission
        for ask in submission.asks_for(chosen_ids_only=False):
            earlier.setdefault(ask, (UNSTORED + index, submission.event.report_id))
    try:
        message_ids = _commit(sessions, topic, list(fresh.values()))
    except IntegrityError:  # the same request, accepted by another request in the meantime
        if len(submissions) > 1:
            return [accept_together(sessions, topic, [submission])[0] for submission in submissions]
        [submission] = submissions
        if (first := _first(_earlier(sessions, submission.asks_for(False))[0], submission.asks_for(False))):
            return [Accepted(first, None)]
        raise
    for index, message_id in zip(fresh, message_ids, strict=True):
        answers[index] = Accepted(fresh[index].event.report_id, message_id)
    return [answer for answer in answers if answer is not None]


def _commit(sessions: sessionmaker[Session], topic: str, submissions: list[Submission]) -> list[int]:
    """The intake rows and outbox messages of ``submissions``, committed together; the messages' ids."""
    if not submissions:
        return []
    from broadcaster.wire.codec import encode_bug_report

    with transaction(sessions) as session:
        session.connection().execute(insert(cast(Table, IntakeRequest.__table__)), [
            {"api_key_id": s.api_key_id, "desk": s.desk, "ticket_url": s.ticket_url, "idempotency_key": s.idempotency_key,
             "report_id": s.event.report_id, "accepted_at": s.now} for s in submissions])
        return outbox.add_all(session, [(topic, s.event.email.encode(), encode_bug_report(s.event), s.now)
                                        for s in submissions])


def _earlier(sessions: sessionmaker[Session], asks: list[Ask]) -> tuple[dict[Ask, tuple[int, str]], dict[str, Owner]]:
    """For each ask that an earlier request made, that request's (id, report id); and who first sent each
    report id asked about, whoever it was. One SELECT for them all.

    The worker keeps one report per id, so a second client's report under another's id would be
    dropped without a word: the caller refuses it (two clients at the very same moment can still
    both pass; the worker then keeps the first).
    """
    if not asks:
        return {}, {}
    matches: list[ColumnElement[bool]] = []
    for (kind, who), field, values in _grouped(asks):
        if field == "report":  # any owner's: a report id is one report, whoever sent it
            matches.append(IntakeRequest.report_id.in_(values))
            continue
        owns = IntakeRequest.desk == who if kind == "desk" else IntakeRequest.api_key_id == who
        matches.append(and_(owns, IntakeRequest.idempotency_key.in_(values)))
    query = select(IntakeRequest.id, IntakeRequest.api_key_id, IntakeRequest.desk, IntakeRequest.idempotency_key,
                   IntakeRequest.report_id).where(or_(*matches)).order_by(IntakeRequest.id)
    found: dict[Ask, tuple[int, str]] = {}
    first_owners: dict[str, Owner] = {}
    with sessions() as session:
        for row_id, api_key_id, desk, idempotency_key, report_id in session.execute(query):
            owner: Owner = ("desk", desk) if desk is not None else ("api_key", api_key_id)
            first_owners.setdefault(report_id, owner)
            found.setdefault((owner, "report", report_id), (row_id, report_id))
            if idempotency_key is not None:
                found.setdefault((owner, "key", idempotency_key), (row_id, report_id))
    return found, first_owners


def _grouped(asks: list[Ask]) -> list[tuple[Owner, str, list[str]]]:
    values: dict[tuple[Owner, str], list[str]] = {}
    for owner, field, value in asks:
        values.setdefault((owner, field), []).append(value)
    return [(owner, field, listed) for (owner, field), listed in values.items()]


def _first(earlier: dict[Ask, tuple[int, str]], asks: list[Ask]) -> str | None:
    """The report of the first request (lowest id) that any of ``asks`` names, if any did."""
    matches = [earlier[ask] for ask in asks if ask in earlier]
    return min(matches)[1] if matches else None


def status(sessions: sessionmaker[Session], report_id: str) -> dict[str, Any] | None:
    """What became of a report, for a support agent's sidebar; None if unknown.

    ``state``: received (not processed yet), linked (its reporter was acknowledged),
    fixed_reply (it came after the fix, and was answered with how to check it), suggested
    or unlinked (waiting for a person, who has until ``reply_by``), or closed (answered by hand).
    """
    with sessions() as session:
        report = session.get(Report, report_id)
        if report is not None:
            return _what_became_of(session, report)
        accepted = session.scalars(select(IntakeRequest.accepted_at).where(IntakeRequest.report_id == report_id)).first()
    if accepted is None:
        return None
    return {"report_id": report_id, "state": "received", "incident_id": None, "received_at": accepted.isoformat()}


def _what_became_of(session: Session, report: Report) -> dict[str, Any]:
    state, incident_id = report.link_state, report.candidate_incident_id
    if report.link_state == "linked" and report.incident_id is not None:
        incident_id = report.incident_id
        resolved_at = session.get_one(Incident, incident_id).resolved_at
        if resolved_at is not None and report.linked_at is not None and report.linked_at >= resolved_at:
            state = "fixed_reply"
    found = {"report_id": report.id, "state": state, "incident_id": incident_id,
             "received_at": report.received_at.isoformat()}
    if state in ("suggested", "unlinked") and report.triage_due_at is not None:
        found["reply_by"] = report.triage_due_at.isoformat()
    return found
