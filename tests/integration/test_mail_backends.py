"""Both mail backends, for real: .eml files on disk, and HTTP requests to a server speaking SendGrid v3."""

import threading
from datetime import timedelta
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from broadcaster.domain.email import OutgoingEmail, SharedContent
from broadcaster.mail.event_webhook import SIGNATURE, TIMESTAMP, delivery_id, load_verification_key, verified_events
from broadcaster.mail.outbox import OutboxMailer
from broadcaster.mail.sendgrid_api import SendGridMailer
from tests.support.sendgrid_server import SandboxServer
from tests.support.waiting import wait_for


def email(delivery_id: int, to: str) -> OutgoingEmail:
    return OutgoingEmail(delivery_id, to, "Eric Olsen", "[Investigating] CSV upload fails: we are on it",
                         "Hi Eric,\nplain", "<p>Hi Eric,</p>", {"X-Broadcaster-Incident": "INC-1"})


def test_the_outbox_writes_one_standard_eml_per_recipient(tmp_path: Path) -> None:
    mailer = OutboxMailer(tmp_path, "support@example.com", "Example Support")
    results = mailer.send([email(1, "eric@example.com"), email(2, "maz@example.com")])
    assert all(r.accepted for r in results)
    files = sorted(tmp_path.glob("*.eml"))
    assert len(files) == 2
    messages = [BytesParser(policy=policy.default).parse(f.open("rb")) for f in files]
    assert [m["To"].addresses[0].addr_spec for m in messages] == ["eric@example.com", "maz@example.com"]
    first = messages[0]
    assert first["From"].addresses[0].addr_spec == "support@example.com"
    assert first["X-Broadcaster-Incident"] == "INC-1"
    assert first.get_body(("plain",)).get_content().startswith("Hi Eric,")
    assert first.get_body(("html",)).get_content().startswith("<p>Hi Eric,</p>")


def test_names_and_subjects_beyond_ascii_survive_the_eml(tmp_path: Path) -> None:
    zoe = OutgoingEmail(3, "zoe@example.com", "Zoë Łukasiewicz", "[Resolved] Import — fixed", "Hi Zoë,\nfixed",
                        "<p>Hi Zoë,</p>", {"List-Unsubscribe": "<https://example.com/unsubscribe?token=t>"})
    OutboxMailer(tmp_path, "support@example.com", "Example Support").send([zoe])
    raw = next(tmp_path.glob("*.eml")).read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF, as on the wire
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert message["To"].addresses[0].display_name == "Zoë Łukasiewicz"
    assert message["Subject"] == "[Resolved] Import — fixed"
    assert message["List-Unsubscribe"] == "<https://example.com/unsubscribe?token=t>"
    assert message.get_body(("plain",)).get_content().splitlines() == ["Hi Zoë,", "fixed"]
    assert message.get_body(("html",)).get_content() == "<p>Hi Zoë,</p>"


def test_the_outbox_keeps_one_file_per_delivery_when_a_send_is_repeated(tmp_path: Path) -> None:
    mailer = OutboxMailer(tmp_path, "support@example.com", "Example Support")
    first = mailer.send([email(1, "eric@example.com")])
    again = mailer.send([email(1, "eric@example.com")])  # as after a crash before the ledger was updated
    assert first[0].accepted and again[0].accepted
    assert [p.name for p in tmp_path.iterdir()] == ["000000001.eml"]


def test_sendgrid_gets_one_personalization_per_recipient(sandbox: SandboxServer) -> None:
    mailer = SendGridMailer("test-key", sandbox.url, "support@example.com", "Example Support")
    results = mailer.send([email(1, "eric@example.com"), email(2, "maz@example.com")])
    assert [r.accepted for r in results] == [True, True]
    bodies = sandbox.state.accepted
    assert [[p["to"] for p in b["personalizations"]] for b in bodies] == [
        [[{"email": "eric@example.com", "name": "Eric Olsen"}]],
        [[{"email": "maz@example.com", "name": "Eric Olsen"}]],
    ]
    assert bodies[0]["content"][0] == {"type": "text/plain", "value": "Hi Eric,\nplain"}
    assert bodies[0]["headers"]["X-Broadcaster-Incident"] == "INC-1"


def test_names_with_commas_and_semicolons_reach_sendgrid_quoted_as_rfc_5322_wants(sandbox: SandboxServer) -> None:
    mailer = SendGridMailer("test-key", sandbox.url, "support@example.com", "Support; Example, Inc.")
    names = {1: "Olsen, Eric", 2: 'Ann "Annie"; Lee', 3: "Maz Ahmed"}
    emails = [OutgoingEmail(n, f"user{n}@example.com", name, "Subject", "text", "<p>html</p>") for n, name in names.items()]
    assert all(result.accepted for result in mailer.send(emails))
    sent = {p["to"][0]["email"]: p["to"][0]["name"] for body in sandbox.state.accepted for p in body["personalizations"]}
    assert sent == {"user1@example.com": '"Olsen, Eric"', "user2@example.com": '"Ann \\"Annie\\"; Lee"',
                    "user3@example.com": "Maz Ahmed"}
    for address, name in sent.items():  # as a To header: exactly one address, the right one
        assert getaddresses([f"{name} <{address}>"]) == [(names[int(address[4])], address)]
    assert sandbox.state.accepted[0]["from"]["name"] == '"Support; Example, Inc."'


def test_a_malformed_address_is_refused_before_the_api_and_not_retried(sandbox: SandboxServer) -> None:
    mailer = SendGridMailer("test-key", sandbox.url, "support@example.com", "Example Support")
    results = mailer.send([email(1, "not-an-address"), email(2, "maz@example.com")])
    assert results[0].accepted is False and results[0].retryable is False and "invalid address" in results[0].error
    assert results[1].accepted is True
    assert sandbox.state.recipients() == ["maz@example.com"]


def shared_email(delivery_id: int, to: str, name: str) -> OutgoingEmail:
    shared = SharedContent("update-7:progress", "[Identified] Search: progress update",
                           "Hi -bc_name-, about -bc_excerpt-", "<p>Hi -bc_name_html-</p>")
    values = {"-bc_name-": name, "-bc_excerpt-": f"{name}'s report", "-bc_name_html-": name}
    return OutgoingEmail(delivery_id, to, name, shared.subject, f"Hi {name}", f"<p>Hi {name}</p>",
                         {"X-Broadcaster-Incident": "INC-7", "X-Broadcaster-Delivery": str(delivery_id)},
                         shared, values)


def test_recipients_of_one_update_share_one_request_with_their_own_substitutions(sandbox: SandboxServer) -> None:
    mailer = SendGridMailer("test-key", sandbox.url, "support@example.com", "Example Support")
    people = [shared_email(n, f"user{n}@example.com", f"User{n}") for n in range(1, 2502)]
    results = mailer.send(people)
    assert all(r.accepted for r in results) and len(results) == 2501
    assert sandbox.state.requests == 3  # 1,000 + 1,000 + 501
    first = sandbox.state.accepted[0]
    assert first["content"][0]["value"] == "Hi -bc_name-, about -bc_excerpt-"
    assert first["personalizations"][0]["substitutions"]["-bc_name-"] == "User1"
    assert first["personalizations"][0]["headers"] == {"X-Broadcaster-Delivery": "1"}
    assert sorted(sandbox.state.recipients()) == sorted(p.to_email for p in people)


def test_throttling_and_outages_are_retryable(sandbox: SandboxServer) -> None:
    sandbox.state.fail_share, sandbox.state.fail_status = 1.0, 429
    mailer = SendGridMailer("test-key", sandbox.url, "support@example.com", "Example Support")
    [throttled] = mailer.send([email(1, "eric@example.com")])
    assert throttled.retryable and "429" in throttled.error
    sandbox.shutdown()
    sandbox.server_close()
    [unreachable] = mailer.send([email(2, "eric@example.com")])
    assert unreachable.retryable and not unreachable.accepted


def test_a_429_says_how_long_to_wait(sandbox: SandboxServer) -> None:
    sandbox.state.fail_share, sandbox.state.fail_status = 1.0, 429
    mailer = SendGridMailer("test-key", sandbox.url, "support@example.com", "Example Support")
    [throttled] = mailer.send([email(1, "eric@example.com")])
    assert throttled.retryable and throttled.retry_after is not None and 0 <= throttled.retry_after <= 2


class EventReceiver(ThreadingHTTPServer):
    """An Event Webhook endpoint that refuses the first call (as a restarting worker would) and verifies the rest."""

    def __init__(self, public_key: str) -> None:
        self.events: list[dict] = []
        self.calls = 0

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(handler) -> None:
                body = handler.rfile.read(int(handler.headers["Content-Length"]))
                self.calls += 1
                if self.calls > 1:
                    self.events += verified_events(body, handler.headers[SIGNATURE], handler.headers[TIMESTAMP],
                                                   load_verification_key(public_key), max_age=timedelta(hours=1))
                handler.send_response(503 if self.calls == 1 else 200)
                handler.send_header("Content-Length", "0")
                handler.end_headers()

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def test_the_sandbox_posts_signed_events_with_the_custom_args_until_they_are_taken(sandbox: SandboxServer) -> None:
    receiver = EventReceiver(sandbox.state.webhook_public_key)
    sandbox.state.webhook_url = f"http://127.0.0.1:{receiver.server_address[1]}/webhooks/sendgrid"
    mailer = SendGridMailer("test-key", sandbox.url, "support@example.com", "Example Support")
    assert all(r.accepted for r in mailer.send([email(1, "eric@example.com"), email(2, "maz@example.com")]))
    wait_for(lambda: len(receiver.events) == 4, timeout=10, what="processed and delivered for both, after one refused call")
    receiver.shutdown()
    assert receiver.calls >= 2
    assert sorted({delivery_id(e) for e in receiver.events}) == [1, 2]
    assert sorted((e["email"], e["event"]) for e in receiver.events) == [
        ("eric@example.com", "delivered"), ("eric@example.com", "processed"),
        ("maz@example.com", "delivered"), ("maz@example.com", "processed")]
