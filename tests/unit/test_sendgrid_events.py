"""The local SendGrid server's Event Webhook behaves as SendGrid's does, so receivers are tested against the real thing:
events per recipient with unique ids, batched, signed, and retried byte for byte with the first try's timestamp."""

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.request import Request, urlopen

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from broadcaster.mail.event_webhook import SIGNATURE, TIMESTAMP
from tests.support.sendgrid_server import SandboxServer, SandboxState
from tests.support.waiting import wait_for

KEY = "test-key"


@dataclass(frozen=True)
class Call:
    body: bytes
    signature: str
    timestamp: str
    arrived: float


class Receiver(ThreadingHTTPServer):
    """An Event Webhook endpoint that records every call and answers what ``status(call)`` says."""

    def __init__(self, status: Callable[[Call], int] = lambda call: 200) -> None:
        self.calls: list[Call] = []
        self.taken: list[Call] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(handler) -> None:
                call = Call(handler.rfile.read(int(handler.headers["Content-Length"])), handler.headers[SIGNATURE],
                            handler.headers[TIMESTAMP], time.time())
                answer = status(call)
                self.calls.append(call)
                if answer == 200:
                    self.taken.append(call)
                handler.send_response(answer)
                handler.send_header("Content-Length", "0")
                handler.end_headers()

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/webhooks/sendgrid"

    def events(self) -> list[dict]:
        return [event for call in list(self.taken) for event in json.loads(call.body)]


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    started = SandboxServer(SandboxState(KEY)).start_in_background()
    yield started
    started.shutdown()
    started.server_close()


def listen(server: SandboxServer, receiver: Receiver) -> Receiver:
    server.state.webhook_url = receiver.url
    return receiver


def send(server: SandboxServer, personalizations: list[dict]) -> str:
    """One accepted mail/send request; returns SendGrid's X-Message-Id for it."""
    body = {"personalizations": personalizations, "from": {"email": "support@example.com"}, "subject": "Hello",
            "content": [{"type": "text/plain", "value": "Hi"}]}
    request = Request(f"{server.url}/v3/mail/send", data=json.dumps(body).encode(),
                      headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    with urlopen(request, timeout=10) as answer:
        assert answer.status == 202
        return answer.headers["X-Message-Id"]


def person(n: int) -> dict:
    return {"to": [{"email": f"user{n}@example.com"}], "custom_args": {"delivery_id": str(n)}}


def signed_by(server: SandboxServer, call: Call) -> bool:
    key = load_der_public_key(base64.b64decode(server.state.webhook_public_key))
    assert isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)
    key.verify(base64.b64decode(call.signature), call.timestamp.encode() + call.body, ec.ECDSA(hashes.SHA256()))
    return True


def test_each_recipient_gets_processed_then_its_outcome_with_ids_and_custom_args(server) -> None:
    receiver = listen(server, Receiver())
    server.state.outcomes = {
        "USER2@example.com": [{"event": "deferred"}, {"event": "bounce", "type": "blocked"}],
        "user3@example.com": [{"event": "bounce", "type": "bounce"}],
        "user4@example.com": [{"event": "dropped", "reason": "Bounced Address"}],
        "user5@example.com": [{"event": "delivered"}, {"event": "spamreport"}],
    }
    before = int(time.time())
    message_id = send(server, [person(n) for n in range(1, 6)])
    events = wait_for(lambda: len(receiver.events()) == 12 and receiver.events(), timeout=10, what="12 events")
    assert all(signed_by(server, call) for call in receiver.taken)
    sequences = {n: [(e["event"], e.get("type")) for e in events if e["email"] == f"user{n}@example.com"]
                 for n in range(1, 6)}
    assert sequences == {
        1: [("processed", None), ("delivered", None)],
        2: [("processed", None), ("deferred", None), ("bounce", "blocked")],
        3: [("processed", None), ("bounce", "bounce")],
        4: [("processed", None), ("dropped", None)],
        5: [("processed", None), ("delivered", None), ("spamreport", None)],
    }
    assert len({e["sg_event_id"] for e in events}) == 12
    assert all(e["delivery_id"] == e["email"][4] for e in events)  # the personalization's custom_args, at top level
    assert all(before <= e["timestamp"] <= time.time() for e in events)
    assert all(e["sg_message_id"].startswith(f"{message_id}.") for e in events)
    assert len({e["sg_message_id"] for e in events}) == 5  # one message per recipient
    assert next(e for e in events if e["event"] == "dropped")["reason"] == "Bounced Address"


def test_events_are_batched_many_to_a_post(server) -> None:
    receiver = listen(server, Receiver())
    send(server, [person(n) for n in range(1, 51)])
    wait_for(lambda: len(receiver.events()) == 100, timeout=10, what="100 events")
    assert [len(json.loads(call.body)) for call in receiver.calls] == [100]


def test_a_post_holds_at_most_events_per_post_and_order_is_kept(server) -> None:
    receiver = listen(server, Receiver())
    server.state.events_per_post = 40
    send(server, [person(n) for n in range(1, 51)])
    wait_for(lambda: len(receiver.events()) == 100, timeout=10, what="100 events")
    assert [len(json.loads(call.body)) for call in receiver.calls] == [40, 40, 20]
    assert [e["email"] for e in receiver.events()[::2]] == [f"user{n}@example.com" for n in range(1, 51)]


def test_a_refused_post_is_sent_again_as_it_was_with_the_first_timestamp(server) -> None:
    tries: list[Call] = []

    def down_until_the_clock_moves_on(call: Call) -> int:
        """Refuse the first try, and retries until one arrives in a later second than the first was signed in."""
        tries.append(call)
        return 200 if len(tries) > 1 and int(call.arrived) > int(call.timestamp) else 503

    receiver = listen(server, Receiver(down_until_the_clock_moves_on))
    send(server, [person(1), person(2)])
    wait_for(lambda: receiver.taken, timeout=10, what="the post to be taken after refusals")
    first, *retries = receiver.calls
    assert retries and all((c.body, c.signature, c.timestamp) == (first.body, first.signature, first.timestamp)
                           for c in retries)
    assert int(receiver.taken[0].arrived) > int(receiver.taken[0].timestamp)  # signed when first tried, not now
    assert signed_by(server, receiver.taken[0])
    assert [e["event"] for e in receiver.events()] == ["processed", "delivered"] * 2


def test_duplicate_posts_replay_each_batch_for_receivers_to_deduplicate(server) -> None:
    receiver = listen(server, Receiver())
    server.state.duplicate_posts = True
    send(server, [person(1)])
    send(server, [person(2)])
    wait_for(lambda: len(receiver.events()) == 8, timeout=10, what="every post twice")
    calls = receiver.calls
    assert [(c.body, c.signature, c.timestamp) for c in calls[::2]] == [(c.body, c.signature, c.timestamp)
                                                                         for c in calls[1::2]]
    unique = {e["sg_event_id"]: e for e in receiver.events()}
    assert sorted((e["email"], e["event"]) for e in unique.values()) == [
        ("user1@example.com", "delivered"), ("user1@example.com", "processed"),
        ("user2@example.com", "delivered"), ("user2@example.com", "processed")]


def test_no_events_without_a_webhook_url(server) -> None:
    send(server, [person(1)])
    receiver = listen(server, Receiver())
    send(server, [person(2)])
    wait_for(lambda: receiver.events(), timeout=10, what="the second request's events")
    assert {e["email"] for e in receiver.events()} == {"user2@example.com"}
