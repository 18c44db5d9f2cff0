"""The production mail backend: SendGrid's v3 mail/send API, through the sendgrid library.

Each email is its own personalization addressed to one person, so no recipient
ever sees another's address. ``api_host`` is configurable so that tests and
benchmarks can point it at the local server in :mod:`broadcaster.mail.sandbox`.
"""

import time
from collections.abc import Sequence
from typing import Any
from urllib.error import URLError

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from broadcaster.domain.email import OutgoingEmail, SendResult

REQUEST_TIMEOUT_SECONDS = 30


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


def mail_send_body(email: OutgoingEmail, from_email: str, from_name: str) -> dict[str, Any]:
    return {
        "personalizations": [{"to": [{"email": email.to_email, "name": email.to_name}]}],
        "from": {"email": from_email, "name": from_name},
        "subject": email.subject,
        "content": [
            {"type": "text/plain", "value": email.text},
            {"type": "text/html", "value": email.html},
        ],
        "headers": email.headers,
        "custom_args": {"delivery_id": str(email.delivery_id)},
    }


class SendGridMailer:
    def __init__(self, api_key: str, api_host: str, from_email: str, from_name: str) -> None:
        self._api = SendGridAPIClient(api_key=api_key, host=api_host)
        self._api.client.timeout = REQUEST_TIMEOUT_SECONDS
        self._host = api_host
        self._from = (from_email, from_name)

    def describe(self) -> str:
        return f"SendGrid at {self._host}"

    def send(self, emails: Sequence[OutgoingEmail]) -> list[SendResult]:
        return [self._send_one(email) for email in emails]

    def _send_one(self, email: OutgoingEmail) -> SendResult:
        body = mail_send_body(email, *self._from)
        try:
            self._api.client.mail.send.post(request_body=body)
        except HTTPError as error:
            detail = error.body.decode(errors="replace")[:500] if error.body else ""
            return SendResult(
                email.delivery_id,
                False,
                f"SendGrid answered {error.status_code}: {detail}",
                is_retryable(error.status_code),
                retry_after(error.headers) if error.status_code == 429 else None,
            )
        except (URLError, TimeoutError, ConnectionError) as error:
            return SendResult(email.delivery_id, False, f"SendGrid unreachable: {error}", True)
        return SendResult(email.delivery_id, True)
