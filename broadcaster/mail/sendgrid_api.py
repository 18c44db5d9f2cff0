"""The production mail backend: SendGrid's v3 mail/send API, through the sendgrid library.

Emails that share their content (one update, one kind) go out together: one request with
up to 1,000 personalizations, one per recipient, each with that person's substitutions
(name, their report, when they wrote), so no recipient sees another's address and
100,000 recipients take about 100 requests.

What the API answers decides who is affected:
- **400 naming personalizations** (``errors[].field`` such as ``personalizations.500.to.0.email``):
  only those recipients are refused, with SendGrid's message; the rest go out in one more request.
- **400 about the whole request** (no personalization named): the batch fails once, with
  SendGrid's message, instead of being split into thousands of requests that all fail.
- **401 and 403**: the account is refused (revoked key, missing scope, unverified sender),
  not the recipients. Every email is *held*: the mailer stops calling the API for a pause
  that doubles while the refusal lasts, the ledger keeps the rows without spending their
  attempts, and ``account_problem`` says why until a request is accepted again.
- 429 and 5xx: retryable, after the wait the API asked for.
``api_host`` is configurable so tests and benchmarks use a local stand-in (tests/support).
"""

import json
import re
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.error import URLError

import orjson
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from broadcaster.domain.email import OutgoingEmail, SendResult, unsendable

REQUEST_TIMEOUT_SECONDS = 30
MAX_PERSONALIZATIONS = 1000
PER_PERSON_HEADERS = frozenset({"X-Broadcaster-Delivery", "X-Broadcaster-Report", "List-Unsubscribe"})
ACCOUNT_REFUSALS = frozenset({401, 403})
_PERSONALIZATION_FIELD = re.compile(r"^personalizations\.(\d+)(?:\.|$)")


def is_retryable(status: int) -> bool:
    """429 (throttled) and 5xx are worth another try; other 4xx will fail the same way again."""
    return status == 429 or status >= 500


def retry_after(headers: Any) -> float | None:
    """Seconds to wait, from Retry-After or SendGrid's X-RateLimit-Reset (epoch seconds)."""
    if headers is None:
        return None
    try:
        if headers.get("Retry-After"):
            return max(0.0, float(headers["Retry-After"]))
        if headers.get("X-RateLimit-Reset"):
            return max(0.0, float(headers["X-RateLimit-Reset"]) - time.time())
    except (TypeError, ValueError):
        return None
    return None


@dataclass(frozen=True)
class Answer:
    accepted: bool
    status: int | None = None
    error: str | None = None
    retry_after: float | None = None
    refused: dict[int, str] = field(default_factory=dict)  # personalization index: SendGrid's message

    @property
    def retryable(self) -> bool:
        return self.status is None or is_retryable(self.status)


def api_errors(body: bytes | None) -> list[dict[str, Any]]:
    """The ``errors`` list of a SendGrid error answer; empty when the body is not one."""
    try:
        errors = json.loads(body or b"").get("errors")
    except (ValueError, AttributeError):
        return []
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def refused_personalizations(errors: list[dict[str, Any]]) -> dict[int, str]:
    """Personalization index: message, for the errors whose ``field`` names one."""
    refused: dict[int, str] = {}
    for error in errors:
        match = _PERSONALIZATION_FIELD.match(str(error.get("field") or ""))
        if match:
            message = str(error.get("message") or "refused")[:300]
            refused.setdefault(int(match.group(1)), f"SendGrid refused {error['field']}: {message}")
    return refused


def error_text(status: int, errors: list[dict[str, Any]], raw: bytes | None) -> str:
    """``SendGrid answered 400: <messages>``, from the errors list or else the raw body."""
    messages = "; ".join(str(e.get("message")) + (f" ({e['field']})" if e.get("field") else "") for e in errors)
    detail = messages or (raw or b"").decode(errors="replace")
    return f"SendGrid answered {status}: {detail}"[:500]


def batches(emails: Sequence[OutgoingEmail]) -> Iterator[list[OutgoingEmail]]:
    """Emails grouped by shared content, at most 1,000 per group, each address once per group."""
    groups: dict[object, list[tuple[list[OutgoingEmail], set[str]]]] = {}
    for email in emails:
        key = (email.shared.key, email.from_name) if email.shared else object()
        address = email.to_email.lower()
        chunks = groups.setdefault(key, [])
        target = next((c for c in chunks if len(c[0]) < MAX_PERSONALIZATIONS and address not in c[1]), None)
        if target is None:
            target = ([], set())
            chunks.append(target)
        target[0].append(email)
        target[1].add(address)
    for chunks in groups.values():
        yield from (chunk for chunk, _ in chunks)


_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')  # one search per recipient, in C


def display_name(name: str) -> str:
    """A display name as RFC 5322 wants it: quoted when it holds a special (``,`` ``;`` ``"``...).

    SendGrid puts ``to.name`` into the To header as given; an unquoted comma there has
    been read as a second address, and the message dropped while the API said 202.
    """
    if not _SPECIALS.search(name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def request_body(batch: Sequence[OutgoingEmail], from_email: str, from_name: str) -> dict[str, Any]:
    first = batch[0]
    shared_headers = {k: v for k, v in first.headers.items() if k not in PER_PERSON_HEADERS}
    body: dict[str, Any] = {
        "from": {"email": from_email, "name": display_name(first.from_name or from_name)},
        "subject": first.subject,
        "headers": shared_headers,
        "personalizations": [
            {
                "to": [{"email": email.to_email, "name": display_name(email.to_name)}],
                "headers": {k: v for k, v in email.headers.items() if k in PER_PERSON_HEADERS},
                "custom_args": {"delivery_id": str(email.delivery_id)},
                **({"substitutions": email.substitutions} if email.shared else {}),
            }
            for email in batch
        ],
    }
    reply_to = first.shared.reply_to if first.shared else first.reply_to  # SendGrid substitutes its tag per person
    if reply_to:
        body["reply_to"] = {"email": reply_to, "name": display_name(from_name)}
    text, html = (first.shared.text, first.shared.html) if first.shared else (first.text, first.html)
    body["content"] = [{"type": "text/plain", "value": text}, {"type": "text/html", "value": html}]
    return body


def encoded(body: dict[str, Any]) -> bytes:
    """The request's JSON: orjson, 15 times faster than the json module on a 700 KB body (3.1 ms).

    A lone surrogate (which the entrances refuse, but an older row might hold) is the one
    thing orjson will not write; the json module escapes it, as the sendgrid library would.
    """
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError:
        return json.dumps(body).encode()


@dataclass
class AccountPause:
    """While SendGrid refuses the account (401/403), nobody's email is tried; the pause doubles up to ``cap``."""

    first: timedelta
    cap: timedelta
    problem: str | None = None
    until: float = 0.0
    length: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refused(self, problem: str) -> float:
        """Start or lengthen the pause; returns what is left of it, in seconds.

        A refusal that arrives while a pause runs (a request sent before it began: a worker
        sends several pages at once) leaves it as it is: the pause doubles per try, not per request.
        """
        with self.lock:
            if time.monotonic() < self.until:
                return self.until - time.monotonic()
            self.length = min(self.cap.total_seconds(), self.length * 2 or self.first.total_seconds())
            self.problem, self.until = problem, time.monotonic() + self.length
            return self.length

    def worked(self) -> None:
        with self.lock:
            self.problem, self.until, self.length = None, 0.0, 0.0

    def remaining(self) -> float:
        return max(0.0, self.until - time.monotonic())


class SendGridMailer:
    def __init__(self, api_key: str, api_host: str, from_email: str, from_name: str, *,
                 account_pause: timedelta = timedelta(minutes=5),
                 account_pause_cap: timedelta = timedelta(hours=1)) -> None:
        self._api = SendGridAPIClient(api_key=api_key, host=api_host)
        self._api.client.timeout = REQUEST_TIMEOUT_SECONDS
        self._host = api_host
        self._from = (from_email, from_name)
        self._pause = AccountPause(account_pause, account_pause_cap)

    def describe(self) -> str:
        return f"SendGrid at {self._host}"

    @property
    def account_problem(self) -> str | None:
        """Why SendGrid refuses our account (401/403), until a request is accepted again."""
        return self._pause.problem

    def send(self, emails: Sequence[OutgoingEmail]) -> list[SendResult]:
        return [result for batch in batches(emails) for result in self._send_batch(batch)]

    def _send_batch(self, batch: list[OutgoingEmail]) -> list[SendResult]:
        problems = {e.delivery_id: unsendable(e) for e in batch}
        pending = [e for e in batch if problems[e.delivery_id] is None]
        results = [SendResult(i, False, problem) for i, problem in problems.items() if problem is not None]
        while pending:
            if self._pause.remaining():
                return results + self._held(pending, self._pause.remaining())
            answer = self._post(request_body(pending, *self._from))
            if answer.accepted:
                self._pause.worked()
                return results + [SendResult(e.delivery_id, True) for e in pending]
            if answer.status in ACCOUNT_REFUSALS:
                return results + self._held(pending, self._pause.refused(answer.error or "account refused"))
            named = {i: message for i, message in answer.refused.items() if i < len(pending)}
            if not named:  # about the whole request, or not an answer at all
                return results + [SendResult(e.delivery_id, False, answer.error, answer.retryable, answer.retry_after)
                                  for e in pending]
            results += [SendResult(pending[i].delivery_id, False, message) for i, message in named.items()]
            pending = [e for i, e in enumerate(pending) if i not in named]
        return results

    def _held(self, emails: list[OutgoingEmail], seconds: float) -> list[SendResult]:
        problem = f"held while SendGrid refuses the account: {self._pause.problem}"
        return [SendResult(e.delivery_id, False, problem, retryable=True, retry_after=seconds, held=True)
                for e in emails]

    def _post(self, body: dict[str, Any]) -> Answer:
        try:
            self._post_encoded(encoded(body))
        except HTTPError as error:
            errors = api_errors(error.body)
            wait = retry_after(error.headers) if error.status_code == 429 else None
            refused = refused_personalizations(errors) if error.status_code == 400 else {}
            return Answer(False, error.status_code, error_text(error.status_code, errors, error.body), wait, refused)
        except (URLError, TimeoutError, ConnectionError) as error:
            return Answer(False, None, f"SendGrid unreachable: {error}")
        return Answer(True)

    def _post_encoded(self, data: bytes) -> None:
        """POST mail/send with the sendgrid library's client: its URL, headers (key, user agent), timeout and errors.

        Only the body is ours. ``client.mail.send.post(request_body=...)`` encodes it with the
        json module and then formats all of it into a debug message whether or not anything is
        logged: for 1,000 recipients (700 KB) that was 4.5 ms of a worker's CPU a request,
        a tenth of everything a fan-out spends per recipient.
        """
        endpoint = self._api.client.mail.send
        headers = {**endpoint.request_headers, "Content-Type": "application/json"}
        request = urllib.request.Request(endpoint._build_url(None), data=data, headers=headers, method="POST")
        endpoint._make_request(urllib.request.build_opener(), request)
