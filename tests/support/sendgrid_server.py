"""A local HTTP server that answers like SendGrid's v3 mail/send API: for tests and benchmarks only.

It lives with the tests, not in the product, and it is no kinder than SendGrid: a request
the real API would refuse is refused here, in SendGrid's words and error shape, so a test
that passes against it says something about production. It answers, checking in this order:

- 401 or 403 to everything while the account is refused (``account_status``);
- 401 for a missing or wrong key, 403 for a key without the ``mail.send`` scope;
- 413 for a body over 30 MB (SendGrid's limit on a message's total size);
- 400 for anything against the published request schema or the documented rules
  (:mod:`tests.support.sendgrid_rules`), every error with the ``field`` it concerns;
- 403 for a ``from`` address that is not a verified sender, when senders are configured;
- the injected failures, if any; else 202 with an ``X-Message-Id``.

Tests turn knobs on :class:`SandboxState`: throttling and outages (``fail_share`` with
``fail_status`` or ``fail_statuses``: 429 with ``X-RateLimit-Reset``, or 5xx), a refused
account (``account_status``: 401 or 403 to every request while set), addresses SendGrid
calls invalid (``refused_addresses``), missing scope (``key_scopes``), sender identities
(``verified_senders``), and the Event Webhook (``webhook_url``, per-address ``outcomes``,
``duplicate_posts``, ``events_per_post``; see :mod:`tests.support.sendgrid_events`).
It records every accepted request (``accepted``, ``accepted_at``) and counts calls
(``requests``) and 400 answers (``rejected``). ``response_delay`` makes every answer take
that long, as a real round trip does; ``most_in_flight`` says how many requests it was
answering at the same time.
"""

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.sendgrid_events import EventPoster, events_of, sendgrid_id
from tests.support.sendgrid_rules import error, request_errors, request_schema

MAX_BODY_BYTES = 30 * 1024 * 1024
EVENT_ROUND_SECONDS = 0.2  # how often waiting events are posted (SendGrid: every few seconds)
INVALID_GRANT = "The provided authorization grant is invalid, expired, or revoked"
FORBIDDEN = "access forbidden"
UNVERIFIED_SENDER = ("The from address does not match a verified Sender Identity. Mail cannot be sent until this "
                     "error is resolved. Visit https://sendgrid.com/docs/for-developers/sending-email/sender-identity/ "
                     "to see the Sender Identity requirements")
_REFUSING = {401: INVALID_GRANT, 403: FORBIDDEN}


@dataclass
class SandboxState:
    """The account the server plays (knobs a test may change at any time) and what it has seen."""

    api_key: str
    fail_share: float = 0.0  # share of valid requests answered with a failure instead of 202
    fail_status: int = 503
    fail_statuses: tuple[int, ...] = ()  # when set, each failure picks one of these at random
    refused_addresses: set[str] = field(default_factory=set)  # "invalid" to this API though well-formed
    key_scopes: set[str] = field(default_factory=lambda: {"mail.send"})  # what ``api_key`` may do
    verified_senders: set[str] = field(default_factory=set)  # when non-empty, the only from addresses allowed
    account_status: int | None = None  # 401 or 403: every request refused so while set
    # address: the events after "processed" instead of "delivered", e.g. [{"event": "bounce", "type": "blocked"}]
    outcomes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    webhook_url: str | None = None  # where to post signed events; None: no events
    duplicate_posts: bool = False  # post every batch of events twice, as SendGrid's retries may
    events_per_post: int = 1000  # at most this many events in one post
    after_accept: Callable[[], None] | None = None  # fault injection: runs after accepting, before the 202
    response_delay: float = 0.0  # seconds each answer takes, as a real round trip to SendGrid does
    in_flight: int = 0  # requests being answered now
    most_in_flight: int = 0  # the most requests answered at the same time
    keep_bodies: bool = True  # False: keep only the recipients of accepted requests (a million bodies fill memory)
    check_every: int = 1  # check every request against the schema and rules; N: one in N (benchmarks only)
    requests: int = 0  # calls to mail/send, answered however
    accepted: list[dict[str, Any]] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)  # every accepted recipient, once per acceptance
    accepted_at: list[float] = field(default_factory=list)  # time.time() of each accepted request
    rejected: int = 0  # requests answered 400
    checking_seconds: float = 0.0  # CPU this server spent checking requests (benchmarks report it apart)
    webhook: EventPoster = field(default_factory=EventPoster)  # its signing key, events and posts not yet taken
    lock: threading.Lock = field(default_factory=threading.Lock)
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    @property
    def webhook_public_key(self) -> str:
        """The verification key a receiver needs (base64 DER, as SendGrid shows it)."""
        return self.webhook.public_key

    def accept(self, body: dict[str, Any]) -> str:
        """Record an accepted request (caller holds the lock), queue its events; returns its X-Message-Id."""
        message_id = sendgrid_id()
        if self.keep_bodies:
            self.accepted.append(body)
        self.addresses.extend(_to_addresses(body))
        self.accepted_at.append(time.time())
        if self.webhook_url:
            self.webhook.add(events_of(body, message_id, self.outcomes, int(time.time())))
        return message_id

    def recipients(self) -> list[str]:
        """Every ``to`` address accepted so far, once per acceptance (duplicates stay visible)."""
        with self.lock:
            return list(self.addresses)

    def first_acceptances(self) -> dict[str, float]:
        """When each ``to`` address was first accepted (time.time()), for latency measurements."""
        with self.lock:
            moments = list(zip(self.accepted_at, self.accepted, strict=True))
        first: dict[str, float] = {}
        for moment, body in moments:
            for address in _to_addresses(body):
                first.setdefault(address, moment)
        return first


def _to_addresses(body: dict[str, Any]) -> list[str]:
    return [to["email"] for personalization in body["personalizations"] for to in personalization["to"]]


class _Handler(BaseHTTPRequestHandler):
    server: "SandboxServer"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        state = self.server.state
        with state.lock:
            state.in_flight += 1
            state.most_in_flight = max(state.most_in_flight, state.in_flight)
        try:
            if state.response_delay:
                time.sleep(state.response_delay)  # the round trip a real API takes: other requests go on meanwhile
            self._answer_mail_send(state)
        finally:
            with state.lock:
                state.in_flight -= 1

    def _answer_mail_send(self, state: SandboxState) -> None:
        raw = self._read_body()  # before any answer: closing on unread bytes resets the connection
        if self.path.rstrip("/") != "/v3/mail/send":
            return self._refuse(404, "not found")
        with state.lock:
            state.requests += 1
        if state.account_status is not None:
            return self._refuse(state.account_status, _REFUSING.get(state.account_status, FORBIDDEN))
        if self.headers.get("Authorization") != f"Bearer {state.api_key}":
            return self._refuse(401, INVALID_GRANT)
        if "mail.send" not in state.key_scopes:
            return self._refuse(403, FORBIDDEN)
        if raw is None:
            return self._refuse(413, "content too large")
        if self.headers.get("Content-Type") != "application/json":  # the only media type PostMailSend has
            return self._refuse(415, "Content-Type should be application/json.")
        try:
            body = json.loads(raw)
        except ValueError:
            return self._refuse(400, "Bad Request")
        started = time.thread_time()
        checked = state.check_every <= 1 or state.requests % state.check_every == 0
        errors = request_errors(body, state.refused_addresses) if checked else []
        with state.lock:
            state.checking_seconds += time.thread_time() - started
            state.rejected += bool(errors)
        if errors:
            return self._answer(400, {"errors": errors})
        if not _verified(body, state.verified_senders):
            return self._answer(403, {"errors": [error(UNVERIFIED_SENDER, "from")]})
        with state.lock:
            if state.fail_share and state.rng.random() < state.fail_share:
                status = state.rng.choice(state.fail_statuses) if state.fail_statuses else state.fail_status
                return self._throttle_or_fail(status)
            message_id = state.accept(body)
        if state.after_accept:
            state.after_accept()
        self._answer(202, None, {"X-Message-Id": message_id})

    def _read_body(self) -> bytes | None:
        """The body's bytes; None, after reading and dropping them, when it is over SendGrid's 30 MB."""
        length = _content_length(self.headers.get("Content-Length"))
        if length <= MAX_BODY_BYTES:
            return self.rfile.read(length)
        while length > 0 and (chunk := self.rfile.read(min(length, 1 << 20))):
            length -= len(chunk)
        return None

    def _throttle_or_fail(self, status: int) -> None:
        if status == 429:
            headers = {"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0",
                       "X-RateLimit-Reset": str(int(time.time()) + 1)}
            return self._answer(429, {"errors": [error("too many requests", None)]}, headers)
        self._answer(status, {"errors": [error("injected failure", None)]})

    def _refuse(self, status: int, message: str) -> None:
        self._answer(status, {"errors": [error(message, None)]})

    def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _content_length(header: str | None) -> int:
    """The declared body size; 0 (an empty body, refused as not JSON) when absent or not a size."""
    try:
        return max(0, int(header or "0"))
    except ValueError:
        return 0


def _verified(body: dict[str, Any], senders: set[str]) -> bool:
    """Whether every from address (the request's, and any personalization's) is a verified sender identity."""
    if not senders:
        return True
    allowed = {sender.lower() for sender in senders}
    addresses = [body["from"]["email"], *(item["from"]["email"] for item in body["personalizations"] if "from" in item)]
    return all(address.lower() in allowed for address in addresses)


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # several workers, each with several requests in flight

    def __init__(self, state: SandboxState, host: str = "127.0.0.1", port: int = 0) -> None:
        request_schema()  # a missing ../shared/sendgrid fails here, loudly, not inside a request
        super().__init__((host, port), _Handler)
        self.state = state
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start_in_background(self) -> "SandboxServer":
        threading.Thread(target=self.serve_forever, name="sendgrid-sandbox", daemon=True).start()
        threading.Thread(target=self._post_events, name="sendgrid-sandbox-events", daemon=True).start()
        return self

    def shutdown(self) -> None:
        self._stopped.set()
        super().shutdown()

    def _post_events(self) -> None:
        """Every round, post what is due to the webhook URL set at that moment."""
        while not self._stopped.wait(EVENT_ROUND_SECONDS):
            state = self.state
            if state.webhook_url:
                state.webhook.post_due(state.webhook_url, per_post=state.events_per_post,
                                       duplicate=state.duplicate_posts)
