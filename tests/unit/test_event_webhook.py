"""SendGrid's Event Webhook is acted on only when SendGrid signed it, recently."""

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from broadcaster.mail.event_webhook import RejectedWebhook, accepted_deliveries, suppressions, verified_events

KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC = base64.b64encode(KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
EVENTS = [{"email": "ann@example.com", "event": "bounce"}, {"email": "bob@example.com", "event": "delivered"},
          {"email": "cy@example.com", "event": "spamreport"}]


def signed(body: bytes, timestamp: str) -> str:
    return base64.b64encode(KEY.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()


def test_signed_events_suppress_bounces_and_spam_reports_only() -> None:
    body, timestamp = json.dumps(EVENTS).encode(), "1790000000"
    events = verified_events(body, signed(body, timestamp), timestamp, PUBLIC, now=1790000005)
    assert suppressions(events) == [("ann@example.com", "bounce"), ("cy@example.com", "spamreport")]


@pytest.mark.parametrize("tamper", ["body", "timestamp", "old"])
def test_tampered_or_replayed_calls_are_refused(tamper: str) -> None:
    body, timestamp = json.dumps(EVENTS).encode(), "1790000000"
    signature = signed(body, timestamp)
    now = 1790000005
    if tamper == "body":
        body = body.replace(b"bounce", b"open")
    elif tamper == "timestamp":
        timestamp = "1790000001"
    else:
        now = 1790000000 + 3600
    with pytest.raises(RejectedWebhook):
        verified_events(body, signature, timestamp, PUBLIC, now=now)


def test_any_event_with_a_delivery_id_proves_the_api_accepted_that_delivery() -> None:
    events = [{"email": "ann@example.com", "event": "processed", "delivery_id": "41"},
              {"email": "bob@example.com", "event": "delivered", "delivery_id": "7"},
              {"email": "ann@example.com", "event": "open", "delivery_id": "41"},
              {"email": "cy@example.com", "event": "processed"},  # not ours: an owner reminder, say
              {"email": "dee@example.com", "event": "processed", "delivery_id": "x; DROP TABLE"}, "junk"]
    assert accepted_deliveries(events) == [7, 41]
