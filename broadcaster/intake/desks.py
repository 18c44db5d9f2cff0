"""Support-desk webhooks: check a Zendesk or Intercom signature, and map the ticket to a report's body.

A ticket becomes exactly the body POST /v1/reports takes, and is then checked by the same
input rules (services/intake.py), so a desk cannot slip past what the API refuses. A 422
names the desk payload's field (``requester/email``), not the report's, since that is what
whoever configures the desk can fix. The ticket (or conversation) id is the idempotency
key: a desk retrying a webhook gets the first delivery's report back.

Signatures are checked over the raw body, before it is parsed: nothing unsigned is read.
"""

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from broadcaster.domain import input_rules as rules
from broadcaster.domain.events import BugReportReceived
from broadcaster.domain.plain_text import html_text
from broadcaster.services import intake

ZENDESK_SIGNATURE = "x-zendesk-webhook-signature"
ZENDESK_TIMESTAMP = "x-zendesk-webhook-signature-timestamp"
INTERCOM_SIGNATURE = "x-hub-signature"
INTERCOM_TOPIC = "conversation.user.created"
ELLIPSIS = "\n[…]"
_INTERCOM_SOURCE = "data/item/source"


class BadSignature(Exception):
    """The request is not signed with the desk's secret (or, for Zendesk, not recently)."""


@dataclass(frozen=True)
class Ticket:
    desk: str  # also the report's source
    ticket_id: str  # the idempotency key
    url: str | None
    document: dict[str, Any]  # the body POST /v1/reports would take
    fields: dict[str, str]  # a report field -> the desk payload's field, to name it in a 422

    def report(self, now: datetime) -> BugReportReceived:
        """The report, checked by the rules every entrance applies, or InvalidReport naming the desk's fields."""
        try:
            return intake.check_report(self.document, now, source=self.desk)
        except intake.InvalidReport as error:
            raise intake.InvalidReport([(self.fields.get(field, field), problem)
                                        for field, problem in error.problems]) from None


def verify_zendesk(secret: str, body: bytes, signature: str | None, timestamp: str | None,
                   now: datetime, window: timedelta) -> None:
    """Zendesk signs base64(HMAC-SHA256(secret, timestamp + body)); the timestamp must be within ``window``."""
    if not signature or not timestamp:
        raise BadSignature("the Zendesk signature headers are missing")
    signed = timestamp.encode("latin-1") + body  # headers arrive decoded as latin-1: this gives back their bytes
    expected = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature.encode("latin-1")):
        raise BadSignature("the Zendesk signature does not match")
    try:
        signed_at = datetime.fromisoformat(timestamp)
    except ValueError:
        raise BadSignature("the Zendesk signature timestamp is not an ISO 8601 time") from None
    if signed_at.tzinfo is None or abs(now - signed_at) > window:
        raise BadSignature("the Zendesk signature timestamp is too far from now")


def verify_intercom(secret: str, body: bytes, signature: str | None) -> None:
    """Intercom signs ``sha1=`` + hex(HMAC-SHA1(client secret, body)), with no timestamp to check."""
    expected = b"sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest().encode()
    if not signature or not hmac.compare_digest(expected, signature.encode("latin-1").lower()):
        raise BadSignature("the Intercom signature is missing or does not match")


def zendesk_ticket(document: Any) -> Ticket:
    """The ticket in the body docs/OPERATING.md asks the Zendesk webhook to send."""
    problems: list[tuple[str, str]] = []
    body = _object(problems, document, "(body)")
    ticket = _object(problems, body.get("ticket"), "ticket")
    requester = _object(problems, body.get("requester"), "requester")
    ticket_id = _id(problems, ticket.get("id"), "ticket/id")
    url = _optional_url(problems, ticket.get("url"), "ticket/url")
    if problems:
        raise intake.InvalidReport(problems)
    return Ticket("zendesk", ticket_id, url, {
        "reporter": {"email": requester.get("email"), "name": requester.get("name")},
        "text": report_text(ticket.get("subject"), ticket.get("description")),
    }, {"reporter/email": "requester/email", "reporter/name": "requester/name", "text": "ticket/description"})


def intercom_conversation(document: Any) -> Ticket | None:
    """The conversation a ``conversation.user.created`` notification carries; None for any other topic."""
    problems: list[tuple[str, str]] = []
    body = _object(problems, document, "(body)")
    if problems:
        raise intake.InvalidReport(problems)
    if body.get("topic") != INTERCOM_TOPIC:
        return None  # "ping" when the webhook is set up, and topics nobody subscribed this endpoint to
    item = _object(problems, _object(problems, body.get("data"), "data").get("item"), "data/item")
    source = _object(problems, item.get("source"), _INTERCOM_SOURCE)
    author = _object(problems, source.get("author"), f"{_INTERCOM_SOURCE}/author")
    conversation_id = _id(problems, item.get("id"), "data/item/id")
    if problems:
        raise intake.InvalidReport(problems)
    return Ticket("intercom", conversation_id, None, {
        # Leads often have no name: their address is the best name there is.
        "reporter": {"email": author.get("email"), "name": author.get("name") or author.get("email")},
        "text": report_text(html_text(source.get("subject")), html_text(source.get("body"))),
    }, {"reporter/email": f"{_INTERCOM_SOURCE}/author/email", "reporter/name": f"{_INTERCOM_SOURCE}/author/name",
        "text": f"{_INTERCOM_SOURCE}/body"})


def _object(problems: list[tuple[str, str]], value: Any, field: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if not any(shown == field or field.startswith(f"{shown}/") for shown, _ in problems):
        problems.append((field, "must be a JSON object"))
    return {}


def _id(problems: list[tuple[str, str]], value: Any, field: str) -> str:
    """A ticket id: a number, or 1 to 255 characters of one line (it is the idempotency key)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # then checked as any id: a 1,000-digit number overflowed the column on PostgreSQL
    try:
        return rules.line(value, field, max_length=255)
    except rules.InvalidInput as error:
        problems.append((error.field, error.problem))
        return ""


def _optional_url(problems: list[tuple[str, str]], value: Any, field: str) -> str | None:
    try:
        url = rules.optional_line(value, field, max_length=2048)
    except rules.InvalidInput as error:
        problems.append((error.field, error.problem))
        return None
    if url is not None and "://" not in url:
        url = f"https://{url}"  # Zendesk's {{ticket.url}} placeholder gives the address without its scheme
    return url


def report_text(subject: Any, message: Any) -> Any:
    """Subject, a blank line, then the first message; cut to the report limit, as a long ticket is still a report.

    Anything that is not text is passed on as it is, for the input rules to name.
    """
    if not isinstance(message, str):
        return message
    text = f"{subject.strip()}\n\n{message}" if isinstance(subject, str) and subject.strip() else message
    if len(text) > rules.MAX_TEXT:
        text = text[:rules.MAX_TEXT - len(ELLIPSIS)] + ELLIPSIS
    return text
