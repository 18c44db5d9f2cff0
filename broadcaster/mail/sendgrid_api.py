"""The production mail backend: SendGrid's v3 mail/send API, through the sendgrid library.

Emails that share their content (one update, one kind) go out together: one request with
up to 1,000 personalizations, one per recipient, each with that person's substitutions
(name, their report, when they wrote), so no recipient sees another's address and
100,000 recipients take about 100 requests. A request refused with 400 is split in
halves until the bad address is alone, so one bad address holds back nobody else.
``api_host`` is configurable so tests and benchmarks use :mod:`broadcaster.mail.sandbox`.
"""

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.error import URLError

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from broadcaster.domain.email import OutgoingEmail, SendResult, unsendable

REQUEST_TIMEOUT_SECONDS = 30
MAX_PERSONALIZATIONS = 1000
PER_PERSON_HEADERS = frozenset({"X-Broadcaster-Delivery", "List-Unsubscribe"})


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

    @property
    def retryable(self) -> bool:
        return self.status is None or is_retryable(self.status)


def batches(emails: Sequence[OutgoingEmail]) -> Iterator[list[OutgoingEmail]]:
    """Emails grouped by shared content, at most 1,000 per group, each address once per group."""
    groups: dict[object, list[tuple[list[OutgoingEmail], set[str]]]] = {}
    for email in emails:
        key = email.shared.key if email.shared else object()
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


_SPECIALS = frozenset('()<>[]:;@\\,."')


def display_name(name: str) -> str:
    """A display name as RFC 5322 wants it: quoted when it holds a special (``,`` ``;`` ``"``...).

    SendGrid puts ``to.name`` into the To header as given; an unquoted comma there has
    been read as a second address, and the message dropped while the API said 202.
    """
    if not _SPECIALS.intersection(name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def request_body(batch: Sequence[OutgoingEmail], from_email: str, from_name: str) -> dict[str, Any]:
    first = batch[0]
    shared_headers = {k: v for k, v in first.headers.items() if k not in PER_PERSON_HEADERS}
    body: dict[str, Any] = {
        "from": {"email": from_email, "name": display_name(from_name)},
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
    text, html = (first.shared.text, first.shared.html) if first.shared else (first.text, first.html)
    body["content"] = [{"type": "text/plain", "value": text}, {"type": "text/html", "value": html}]
    return body


class SendGridMailer:
    def __init__(self, api_key: str, api_host: str, from_email: str, from_name: str) -> None:
        self._api = SendGridAPIClient(api_key=api_key, host=api_host)
        self._api.client.timeout = REQUEST_TIMEOUT_SECONDS
        self._host = api_host
        self._from = (from_email, from_name)

    def describe(self) -> str:
        return f"SendGrid at {self._host}"

    def send(self, emails: Sequence[OutgoingEmail]) -> list[SendResult]:
        return [result for batch in batches(emails) for result in self._send_batch(batch)]

    def _send_batch(self, batch: list[OutgoingEmail]) -> list[SendResult]:
        problems = {e.delivery_id: unsendable(e) for e in batch}
        valid = [e for e in batch if problems[e.delivery_id] is None]
        results = [SendResult(i, False, problem) for i, problem in problems.items() if problem is not None]
        if not valid:
            return results
        answer = self._post(request_body(valid, *self._from))
        if answer.accepted:
            return results + [SendResult(e.delivery_id, True) for e in valid]
        if answer.status == 400 and len(valid) > 1:  # find the one the API refuses; send the rest
            middle = len(valid) // 2
            return results + self._send_batch(valid[:middle]) + self._send_batch(valid[middle:])
        return results + [SendResult(e.delivery_id, False, answer.error, answer.retryable, answer.retry_after)
                          for e in valid]

    def _post(self, body: dict[str, Any]) -> Answer:
        try:
            self._api.client.mail.send.post(request_body=body)
        except HTTPError as error:
            detail = error.body.decode(errors="replace")[:500] if error.body else ""
            wait = retry_after(error.headers) if error.status_code == 429 else None
            return Answer(False, error.status_code, f"SendGrid answered {error.status_code}: {detail}", wait)
        except (URLError, TimeoutError, ConnectionError) as error:
            return Answer(False, None, f"SendGrid unreachable: {error}")
        return Answer(True)
