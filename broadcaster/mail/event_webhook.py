"""SendGrid's Event Webhook: check the signature, then read each event into what it tells us.

Nothing is acted on unless SendGrid signed it. SendGrid retries a post it could not
deliver for up to 24 hours with the *original* signature and timestamp, so the age a
post may have is a setting (``BROADCASTER_SENDGRID_WEBHOOK_MAX_AGE``, a day and an hour by default) and replays are harmless
because events are applied once per ``sg_event_id`` (:mod:`broadcaster.services.provider_events`).

What each event means for us:
- ``processed`` and every later event of one of our deliveries prove the API accepted it;
- ``delivered``, ``deferred``, ``dropped``, ``bounce`` are recorded on the delivery, for
  ``incident show``; a ``bounce`` of type ``blocked`` (the receiving server said not now,
  usually for a while) is recorded as ``blocked``;
- only a hard bounce, a spam report and an unsubscribe stop all email to the address.
"""

import base64
import binascii
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

from broadcaster.domain.undecoded import has_lone_surrogate

SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_CLOCK_SKEW_SECONDS = 300
SUPPRESSING = {"bounced": "bounce", "spamreport": "spamreport", "unsubscribed": "unsubscribed"}
_KINDS = {"processed": "processed", "delivered": "delivered", "deferred": "deferred", "dropped": "dropped",
          "spamreport": "spamreport", "unsubscribe": "unsubscribed", "group_unsubscribe": "unsubscribed"}
_MAX_ID = 2**63 - 1


class RejectedWebhook(ValueError):
    """Not signed by SendGrid, or signed too long ago: answered 403."""


class MalformedWebhook(ValueError):
    """Signed, but not a list of events: answered 400 (never 500, which SendGrid would retry for a day)."""


class InvalidWebhookKey(ValueError):
    pass


def load_verification_key(text: str) -> ec.EllipticCurvePublicKey:
    """The Event Webhook's verification key, given as SendGrid shows it (base64 DER) or as PEM.

    Whitespace and line breaks around or inside it are ignored. Anything else is refused
    with a message saying what was expected, so a wrong key stops the worker at start
    instead of failing every webhook call.
    """
    cleaned = text.strip()
    try:
        key = (load_pem_public_key(cleaned.encode()) if cleaned.startswith("-----BEGIN")
               else load_der_public_key(base64.b64decode("".join(cleaned.split()), validate=True)))
    except (ValueError, binascii.Error, UnsupportedAlgorithm):
        raise InvalidWebhookKey("not a public key: give the verification key SendGrid shows under Mail Settings, "
                                "Signed Event Webhook (base64), or the same key as PEM") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InvalidWebhookKey("not an ECDSA P-256 public key, which is what SendGrid signs with")
    return key


def verified_events(body: bytes, signature: str, timestamp: str, key: ec.EllipticCurvePublicKey, *,
                    max_age: timedelta, now: float | None = None) -> list[Any]:
    """The list in ``body`` if SendGrid signed it within ``max_age``; RejectedWebhook or MalformedWebhook else."""
    if not signature or not timestamp:
        raise RejectedWebhook("missing signature headers")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):  # a 400-digit one overflowed
        raise RejectedWebhook("timestamp is not a Unix time")
    age = (now or time.time()) - int(timestamp)
    if age > max_age.total_seconds():
        raise RejectedWebhook(f"signed more than {max_age} ago (BROADCASTER_SENDGRID_WEBHOOK_MAX_AGE): a replay?")
    if age < -MAX_CLOCK_SKEW_SECONDS:
        raise RejectedWebhook("signed in the future: check the clocks")
    try:
        key.verify(base64.b64decode(signature), timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, binascii.Error):
        raise RejectedWebhook("signature does not verify") from None
    try:
        events = json.loads(body)
    except ValueError:  # UnicodeDecodeError included
        raise MalformedWebhook("body is not JSON") from None
    if not isinstance(events, list):
        raise MalformedWebhook("body is not a list of events")
    return events


@dataclass(frozen=True)
class ProviderEvent:
    """One event SendGrid reported, reduced to what we act on."""

    event_id: str | None  # sg_event_id: the same event posted twice is applied once
    email: str
    kind: str  # processed, delivered, deferred, dropped, blocked, bounced, spamreport, unsubscribed
    at: datetime
    delivery_id: int | None  # from our custom_args; None for mail that is not a ledger delivery
    detail: str  # SendGrid's reason or the receiving server's response, cut short

    @property
    def suppression(self) -> str | None:
        """Why this event means: send this address nothing more; None when it does not."""
        return SUPPRESSING.get(self.kind)


def read_events(raw: list[Any]) -> tuple[list[ProviderEvent], int]:
    """The events we understand, and how many items were ignored (other kinds, or malformed)."""
    events = [event for item in raw if (event := read_event(item)) is not None]
    return events, len(raw) - len(events)


def read_event(item: Any) -> ProviderEvent | None:
    """One event, or None when it is not one we act on or is malformed (wrong types, huge values)."""
    if not isinstance(item, dict):
        return None
    kind = _kind(item)
    email, event_id, stamp = item.get("email"), item.get("sg_event_id"), item.get("timestamp")
    if kind is None or not isinstance(email, str) or not 3 <= len(email) <= 320:
        return None
    if event_id is not None and (not isinstance(event_id, str) or not 0 < len(event_id) <= 100):
        return None
    detail = " ".join(str(item.get(k)) for k in ("reason", "response", "type") if isinstance(item.get(k), str))
    if any(has_lone_surrogate(text) for text in (email, event_id or "", detail)):
        return None  # JSON may carry a lone surrogate ("\ud800"); the database cannot store one
    return ProviderEvent(event_id, email.strip().lower(), kind, _moment(stamp), delivery_id(item), detail[:300])


def _kind(item: dict[str, Any]) -> str | None:
    if item.get("event") == "bounce":
        return "blocked" if item.get("type") == "blocked" else "bounced"
    event = item.get("event")
    return _KINDS.get(event) if isinstance(event, str) else None


def _moment(stamp: Any) -> datetime:
    """When it happened; now, when SendGrid's timestamp is missing or absurd."""
    if isinstance(stamp, int) and not isinstance(stamp, bool) and 946684800 <= stamp <= 4102444800:
        return datetime.fromtimestamp(stamp, UTC)
    return datetime.now(UTC)


def delivery_id(item: dict[str, Any]) -> int | None:
    """Our ledger id from the request's custom_args, if it is one (a positive 64-bit integer)."""
    value = item.get("delivery_id")
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    if not (str(value).isascii() and str(value).isdigit()) or len(str(value)) > 19:  # "²".isdigit(), int("²") fails
        return None
    number = int(value)
    return number if 0 < number <= _MAX_ID else None
