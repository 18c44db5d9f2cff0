"""A local HTTP server that speaks SendGrid's v3 mail/send API, for tests, demos and benchmarks.

It enforces the rules of the real API that matter to us (bearer key, at most 1,000
personalizations and 1,000 recipients per request, each address once, a sender,
a subject and content), records every accepted request, and can be told to
throttle (429) or fail (503) a share of requests. Like SendGrid's Event Webhook, it can
post a signed "processed" event for every accepted recipient (with the request's
custom_args) to ``webhook_url``, retrying until the receiver answers. Run it on its own
with ``python -m broadcaster.mail.sandbox --port 8025``.
"""

import base64
import json
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.error import URLError
from urllib.request import Request, urlopen

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from broadcaster.mail.event_webhook import SIGNATURE, TIMESTAMP

MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class SandboxState:
    api_key: str
    fail_share: float = 0.0
    fail_status: int = 503
    fail_statuses: tuple[int, ...] = ()  # when set, each failure picks one of these at random
    refused_addresses: set[str] = field(default_factory=set)  # "invalid" to this API though well-formed
    requests: int = 0
    accepted: list[dict[str, Any]] = field(default_factory=list)
    accepted_at: list[float] = field(default_factory=list)  # time.time() of each accepted request
    rejected: int = 0
    webhook_url: str | None = None  # where to post signed events; None: no events
    after_accept: Callable[[], None] | None = None  # fault injection: runs after accepting, before the 202
    pending_events: list[dict[str, Any]] = field(default_factory=list)
    webhook_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    lock: threading.Lock = field(default_factory=threading.Lock)
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    @property
    def webhook_public_key(self) -> str:
        """The verification key a receiver needs (base64 DER, as SendGrid shows it)."""
        der = self.webhook_key.public_key().public_bytes(serialization.Encoding.DER,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(der).decode()

    def accept(self, body: dict[str, Any]) -> None:
        """Record an accepted request (caller holds the lock) and queue its events."""
        self.accepted.append(body)
        self.accepted_at.append(time.time())
        if self.webhook_url:
            self.pending_events += [
                {"email": to["email"], "event": "processed", "timestamp": int(time.time()),
                 **(item.get("custom_args") or {})}
                for item in body["personalizations"] for to in item["to"]
            ]

    def post_events(self) -> None:
        """Post what is pending, signed; keep it for the next try if the receiver does not take it."""
        with self.lock:
            events, self.pending_events, url = self.pending_events, [], self.webhook_url
        if not events or not url:
            return
        payload, stamp = json.dumps(events).encode(), str(int(time.time()))
        signature = base64.b64encode(self.webhook_key.sign(stamp.encode() + payload, ec.ECDSA(hashes.SHA256())))
        request = Request(url, data=payload, method="POST", headers={
            SIGNATURE: signature.decode(), TIMESTAMP: stamp, "Content-Type": "application/json"})
        try:
            with urlopen(request, timeout=10):
                return
        except (URLError, OSError):
            with self.lock:
                self.pending_events[:0] = events

    def recipients(self) -> list[str]:
        """Every address accepted so far, once per acceptance (duplicates stay visible)."""
        with self.lock:
            return [
                to["email"]
                for body in self.accepted
                for personalization in body["personalizations"]
                for to in personalization["to"]
            ]

    def first_acceptances(self) -> dict[str, float]:
        """When each address was first accepted (time.time()), for latency measurements."""
        with self.lock:
            moments = list(zip(self.accepted_at, self.accepted, strict=True))
        first: dict[str, float] = {}
        for moment, body in moments:
            for address in _addresses(body):
                first.setdefault(address, moment)
        return first


def rule_violations(body: Any) -> list[str]:
    """What a request breaks of the documented mail/send rules; empty when it is valid."""
    if not isinstance(body, dict):
        return ["body must be a JSON object"]
    problems = []
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not 1 <= len(personalizations) <= MAX_PERSONALIZATIONS:
        problems.append("personalizations must hold 1 to 1000 items")
        personalizations = []
    addresses = [
        (to or {}).get("email", "")
        for item in personalizations
        for kind in ("to", "cc", "bcc")
        for to in (item.get(kind) or [])
    ]
    if any(not item.get("to") for item in personalizations):
        problems.append("every personalization needs at least one 'to'")
    if len(addresses) > MAX_RECIPIENTS:
        problems.append("at most 1000 recipients per request")
    if len({address.lower() for address in addresses}) != len(addresses):
        problems.append("each address may appear once per request")
    problems += [f"invalid email address {a!r}" for a in addresses if not _ADDRESS.match(a or "")]
    if not _ADDRESS.match((body.get("from") or {}).get("email", "")):
        problems.append("from.email is required and must be an address")
    has_subject = body.get("subject") or all(item.get("subject") for item in personalizations)
    if not has_subject:
        problems.append("subject is required")
    content = body.get("content") or []
    if not content or any(not c.get("type") or not c.get("value") for c in content):
        problems.append("content needs at least one item with a type and a non-empty value")
    return problems


def _addresses(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return []
    return [to.get("email", "") for item in body.get("personalizations") or [] for to in item.get("to") or []]


class _Handler(BaseHTTPRequestHandler):
    server: "SandboxServer"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        state = self.server.state
        if self.path.rstrip("/") != "/v3/mail/send":
            return self._answer(404, {"errors": [{"message": "not found"}]})
        if self.headers.get("Authorization") != f"Bearer {state.api_key}":
            return self._answer(401, {"errors": [{"message": "authorization required"}]})
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        except ValueError:
            return self._answer(400, {"errors": [{"message": "body is not JSON"}]})
        problems = rule_violations(body)
        problems += [f"invalid email address {a!r}" for a in _addresses(body) if a in state.refused_addresses]
        with state.lock:
            state.requests += 1
            if problems:
                state.rejected += 1
            elif state.fail_share and state.rng.random() < state.fail_share:
                status = state.rng.choice(state.fail_statuses) if state.fail_statuses else state.fail_status
                return self._throttle_or_fail(status)
            else:
                state.accept(body)
        if problems:
            return self._answer(400, {"errors": [{"message": p} for p in problems]})
        if state.after_accept:
            state.after_accept()
        self._answer(202, None)

    def _throttle_or_fail(self, status: int) -> None:
        headers = {"X-RateLimit-Reset": str(int(time.time()) + 1)} if status == 429 else {}
        self._answer(status, {"errors": [{"message": "injected failure"}]}, headers)

    def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: SandboxState, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.state = state

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start_in_background(self) -> "SandboxServer":
        threading.Thread(target=self.serve_forever, name="sendgrid-sandbox", daemon=True).start()
        threading.Thread(target=self._post_events_forever, name="sendgrid-sandbox-events", daemon=True).start()
        return self

    def _post_events_forever(self) -> None:
        while True:
            self.state.post_events()
            time.sleep(0.2)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--api-key", default="sandbox-key")
    parser.add_argument("--fail-share", type=float, default=0.0)
    args = parser.parse_args()
    server = SandboxServer(SandboxState(args.api_key, args.fail_share), port=args.port)
    print(f"SendGrid sandbox on {server.url} (key {args.api_key!r})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
