"""SendGrid's Event Webhook: verify the signature, then turn bounces, drops, spam reports and
unsubscribes into suppressions, and any event about one of our deliveries into proof that
the API accepted it. Nothing is acted on unless SendGrid signed it, recently."""

import json
import time
from typing import Any

from sendgrid.helpers.eventwebhook import EventWebhook

MAX_AGE_SECONDS = 600
SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
SUPPRESSING = {"bounce": "bounce", "dropped": "dropped", "spamreport": "spamreport",
               "unsubscribe": "unsubscribed", "group_unsubscribe": "unsubscribed"}


class RejectedWebhook(ValueError):
    pass


def verified_events(body: bytes, signature: str, timestamp: str, public_key: str,
                    now: float | None = None) -> list[dict[str, Any]]:
    """The events in ``body`` if SendGrid signed it within the last ten minutes; else RejectedWebhook."""
    if not signature or not timestamp:
        raise RejectedWebhook("missing signature headers")
    try:
        age = (now or time.time()) - int(timestamp)
    except ValueError:
        raise RejectedWebhook("timestamp is not a number") from None
    if abs(age) > MAX_AGE_SECONDS:
        raise RejectedWebhook("timestamp too old or in the future (replay?)")
    webhook = EventWebhook(public_key)
    try:
        valid = webhook.verify_signature(body.decode(), signature, timestamp)
    except (ValueError, UnicodeDecodeError):
        valid = False
    if not valid:
        raise RejectedWebhook("signature does not verify")
    events = json.loads(body)
    if not isinstance(events, list):
        raise RejectedWebhook("body is not a list of events")
    return events


def accepted_deliveries(events: list[dict[str, Any]]) -> list[int]:
    """Ledger ids the API must have accepted: every event carries the request's custom_args.

    A worker that dies between the API's 202 and its ledger commit leaves its rows in
    ``sending``; these ids let the ledger learn of the send without sending again.
    """
    ids = {e.get("delivery_id") for e in events if isinstance(e, dict)}
    return sorted(int(i) for i in ids if isinstance(i, str | int) and str(i).isdigit() and int(i) > 0)


def suppressions(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(address, reason) for every event that means: send this address nothing more."""
    return [(e["email"], SUPPRESSING[e["event"]]) for e in events
            if isinstance(e, dict) and e.get("event") in SUPPRESSING and e.get("email")]
