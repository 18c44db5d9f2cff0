"""SendGrid's Event Webhook is acted on only when SendGrid signed it; each event is read for what it means."""

import base64
import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from broadcaster.mail.event_webhook import (
    InvalidWebhookKey,
    MalformedWebhook,
    RejectedWebhook,
    load_verification_key,
    read_event,
    read_events,
    verified_events,
)

KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC = base64.b64encode(KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
PEM = KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
VERIFIER = load_verification_key(PUBLIC)
DAY = timedelta(hours=25)
EVENTS = [{"email": "ann@example.com", "event": "bounce", "type": "bounce"}, {"email": "bob@example.com", "event": "delivered"},
          {"email": "cy@example.com", "event": "spamreport"}]


def signed(body: bytes, timestamp: str) -> str:
    return base64.b64encode(KEY.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()


@pytest.mark.parametrize("given_as", [PUBLIC, PUBLIC + "\n", f"  {PUBLIC}\r\n", PEM, PEM.replace("\n", "\r\n"),
                                      "\n".join(PUBLIC[i:i + 64] for i in range(0, len(PUBLIC), 64))])
def test_the_key_is_taken_as_sendgrid_shows_it_or_as_pem_with_any_whitespace(given_as: str) -> None:
    body, stamp = json.dumps(EVENTS).encode(), "1790000000"
    key = load_verification_key(given_as)
    assert verified_events(body, signed(body, stamp), stamp, key, max_age=DAY, now=1790000005) == EVENTS


@pytest.mark.parametrize("wrong", ["", "not a key", PUBLIC[:-8], "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
                                   base64.b64encode(rsa.generate_private_key(65537, 2048).public_key().public_bytes(
                                       serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()])
def test_anything_else_is_refused_at_start_with_what_was_expected(wrong: str) -> None:
    with pytest.raises(InvalidWebhookKey, match="public key"):
        load_verification_key(wrong)


@pytest.mark.parametrize("tamper", ["body", "timestamp", "old", "future", "signature", "huge", "negative", "digits"])
def test_tampered_or_replayed_calls_are_refused(tamper: str) -> None:
    body, timestamp = json.dumps(EVENTS).encode(), "1790000000"
    signature = signed(body, timestamp)
    now = 1790000005
    if tamper == "body":
        body = body.replace(b"bounce", b"open")
    elif tamper == "timestamp":
        timestamp = "1790000001"
    elif tamper == "old":
        now = 1790000000 + 26 * 3600
    elif tamper == "future":
        now = 1790000000 - 3600
    elif tamper in ("huge", "negative", "digits"):  # 400 digits overflowed the age's float: a 500
        timestamp = {"huge": "9" * 400, "negative": "-" + "9" * 400, "digits": "١٧٩٠٠٠٠٠٠٠"}[tamper]
        signature = signed(body, timestamp)
    else:
        signature = "not base64!"
    with pytest.raises(RejectedWebhook):
        verified_events(body, signature, timestamp, VERIFIER, max_age=DAY, now=now)


def test_a_retry_keeps_its_first_timestamp_so_the_window_is_a_setting() -> None:
    """SendGrid retries a post for a day, signed with the first try's timestamp: 20 hours old is normal."""
    body, stamp = json.dumps(EVENTS).encode(), "1790000000"
    twenty_hours_later = 1790000000 + 20 * 3600
    assert verified_events(body, signed(body, stamp), stamp, VERIFIER, max_age=DAY, now=twenty_hours_later)
    with pytest.raises(RejectedWebhook, match="BROADCASTER_SENDGRID_WEBHOOK_MAX_AGE"):
        verified_events(body, signed(body, stamp), stamp, VERIFIER, max_age=timedelta(minutes=10), now=twenty_hours_later)


@pytest.mark.parametrize("body", [b"not json", b"\xff\xfe", b'{"event": "bounce"}', b"42", b"null"])
def test_a_signed_body_that_is_not_a_list_of_events_is_malformed_not_an_error(body: bytes) -> None:
    with pytest.raises(MalformedWebhook):
        verified_events(body, signed(body, "1790000000"), "1790000000", VERIFIER, max_age=DAY, now=1790000001)


def test_only_hard_bounces_spam_reports_and_unsubscribes_stop_all_email() -> None:
    raw = [{"email": "hard@example.com", "event": "bounce", "type": "bounce"},
           {"email": "soon@example.com", "event": "bounce", "type": "blocked", "reason": "try again later"},
           {"email": "full@example.com", "event": "deferred", "response": "mailbox full"},
           {"email": "known@example.com", "event": "dropped", "reason": "Bounced Address"},
           {"email": "spam@example.com", "event": "spamreport"}, {"email": "u@example.com", "event": "unsubscribe"},
           {"email": "g@example.com", "event": "group_unsubscribe"}, {"email": "ok@example.com", "event": "delivered"}]
    events, ignored = read_events(raw)
    assert ignored == 0
    assert {e.email: (e.kind, e.suppression) for e in events} == {
        "hard@example.com": ("bounced", "bounce"), "soon@example.com": ("blocked", None),
        "full@example.com": ("deferred", None), "known@example.com": ("dropped", None),
        "spam@example.com": ("spamreport", "spamreport"), "u@example.com": ("unsubscribed", "unsubscribed"),
        "g@example.com": ("unsubscribed", "unsubscribed"), "ok@example.com": ("delivered", None)}
    assert events[1].detail == "try again later blocked"


def test_delivery_ids_are_read_only_when_they_are_ours() -> None:
    ids = {"41": 41, 7: 7, "x; DROP TABLE": None, "0": None, "-3": None, True: None, "9" * 19: None,
           "9" * 5000: None, 2**63 - 1: 2**63 - 1, 1.5: None, None: None, "²": None, "٣": None}
    for given_id, expected in ids.items():
        event = read_event({"email": "ann@example.com", "event": "processed", "delivery_id": given_id})
        assert event is not None and event.delivery_id == expected, given_id


@pytest.mark.parametrize("item", ["junk", 7, None, [], {"event": "delivered"}, {"email": 5, "event": "delivered"},
                                  {"email": ["a@example.com"], "event": "bounce"}, {"email": "a@example.com", "event": 3},
                                  {"email": "a@example.com", "event": "open"}, {"email": "x" * 5000, "event": "bounce"},
                                  {"email": "a@example.com", "event": "delivered", "sg_event_id": {"a": 1}},
                                  {"email": "a@example.com", "event": "delivered", "sg_event_id": "e" * 101},
                                  {"email": "a@example.com", "event": "delivered", "sg_event_id": "\ud800"},
                                  {"email": "a\udc80@example.com", "event": "bounce"},
                                  {"email": "a@example.com", "event": "deferred", "response": "450 \udc80"}])
def test_malformed_or_uninteresting_items_are_ignored_not_fatal(item: object) -> None:
    assert read_event(item) is None
    assert read_events([item, {"email": "ok@example.com", "event": "delivered"}])[1] == 1


ANY_TEXT = st.text(st.characters(blacklist_categories=()), max_size=30)  # lone surrogates too, as JSON may carry
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
                    max_leaves=20)
EVENTISH = st.fixed_dictionaries({"email": JSON | st.emails(), "event": JSON | st.sampled_from(["bounce", "delivered"])},
                                 optional={"type": JSON, "timestamp": JSON, "delivery_id": JSON, "sg_event_id": JSON,
                                           "reason": JSON})


@settings(derandomize=True, max_examples=300)
@given(st.lists(JSON | EVENTISH, max_size=8))
def test_no_list_of_json_values_makes_the_reader_raise(raw: list) -> None:
    events, ignored = read_events(raw)
    assert len(events) + ignored == len(raw)
    for event in events:
        assert isinstance(event.email, str) and 3 <= len(event.email) <= 320
        assert event.delivery_id is None or 0 < event.delivery_id < 2**63
        (event.email + (event.event_id or "") + event.detail).encode()  # what the database stores: UTF-8
