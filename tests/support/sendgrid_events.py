"""SendGrid's side of the Event Webhook, as the local SendGrid server plays it.

What SendGrid does, and so what a receiver must cope with:
- each recipient of an accepted request gets ``processed``, then an outcome (``delivered``,
  or ``deferred``, ``bounce``, ``dropped``, ``spamreport``...), each event with ``email``,
  ``timestamp``, ``event``, a unique ``sg_event_id``, ``sg_message_id`` and the
  personalization's ``custom_args`` at top level;
- events are batched, many to a POST, signed with ECDSA P-256 over timestamp + body;
- a POST the receiver does not take (not 2xx, or unreachable) is sent again later *as it
  was*: same body, same signature, same timestamp header. A receiver that insists on a
  fresh timestamp, or applies an event twice, is wrong against the real SendGrid too.
"""

import base64
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.error import URLError
from urllib.request import Request, urlopen

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from broadcaster.mail.event_webhook import SIGNATURE, TIMESTAMP

DELIVERED = ({"event": "delivered"},)
# What SendGrid adds to each kind of event; an outcome configured by a test may override any of it.
DETAILS: dict[str, dict[str, str]] = {
    "delivered": {"response": "250 2.0.0 OK"},
    "deferred": {"response": "421 4.7.0 Try again later", "attempt": "1"},
    "bounce": {"type": "bounce", "status": "5.0.0", "reason": "550 5.0.0 Refused by the receiving server"},
    "dropped": {"reason": "Bounced Address"},
}


def sendgrid_id() -> str:
    """22 URL-safe characters, the shape of SendGrid's X-Message-Id and sg_event_id."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


def events_of(body: dict[str, Any], message_id: str, outcomes: Mapping[str, list[dict[str, Any]]],
              now: int) -> list[dict[str, Any]]:
    """The events an accepted request causes: per recipient, ``processed`` then its outcome (``delivered`` by default).

    ``outcomes`` maps an address (any case) to the events that follow ``processed`` for it.
    """
    by_address = {address.lower(): events for address, events in outcomes.items()}
    recipients = [(person["email"], item.get("custom_args", {}))
                  for item in body["personalizations"] for kind in ("to", "cc", "bcc") for person in item.get(kind, [])]
    return [
        {**custom_args, **DETAILS.get(event["event"], {}), "email": address, "timestamp": now,
         "sg_event_id": sendgrid_id(), "sg_message_id": f"{message_id}.filter0001.{index}.0", **event}
        for index, (address, custom_args) in enumerate(recipients)
        for event in ({"event": "processed"}, *by_address.get(address.lower(), DELIVERED))
    ]


@dataclass(frozen=True)
class SignedPost:
    """One Event Webhook call exactly as first made: a retry sends these bytes and headers again."""

    body: bytes
    headers: dict[str, str]


class EventPoster:
    """Events waiting to be posted, and posts the receiver has not taken yet, oldest first."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self._lock = threading.Lock()
        self._waiting: list[dict[str, Any]] = []
        self._unsent: deque[SignedPost] = deque()

    @property
    def public_key(self) -> str:
        """The verification key a receiver needs (base64 DER, as SendGrid shows it)."""
        der = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(der).decode()

    def add(self, events: list[dict[str, Any]]) -> None:
        with self._lock:
            self._waiting += events

    def post_due(self, url: str, *, per_post: int, duplicate: bool) -> None:
        """Post everything due: first what the receiver refused before, then new batches of ``per_post`` events.

        Stops at the first post not taken, keeping it for the next round, so order is kept
        and a receiver that is down is not hammered. ``duplicate`` sends every post twice.
        """
        while True:
            with self._lock:
                if not self._unsent and self._waiting:
                    batch, self._waiting = self._waiting[:per_post], self._waiting[per_post:]
                    self._unsent.append(self._sign(batch))
                if not self._unsent:
                    return
                post = self._unsent[0]
            if not _taken(url, post):
                return
            if duplicate:
                _taken(url, post)  # a deliberate replay: whether it is taken again does not matter
            with self._lock:
                self._unsent.popleft()

    def _sign(self, events: list[dict[str, Any]]) -> SignedPost:
        body, stamp = json.dumps(events).encode(), str(int(time.time()))
        signature = base64.b64encode(self.key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
        return SignedPost(body, {SIGNATURE: signature, TIMESTAMP: stamp, "Content-Type": "application/json"})


def _taken(url: str, post: SignedPost) -> bool:
    """Whether the receiver answered 2xx (urlopen raises HTTPError, a URLError, for anything else)."""
    try:
        with urlopen(Request(url, data=post.body, method="POST", headers=post.headers), timeout=10):
            return True
    except (URLError, OSError):
        return False
