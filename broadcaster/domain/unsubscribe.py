"""Signed unsubscribe tokens: each email's link names the email it came in and what to stop, never the address.

A token is ``<delivery id>.<scope>.<mac>``: the ledger row of the email (one subscription:
one incident, one address, looked up when the link is used), ``incident`` or ``all``, and
a truncated HMAC-SHA256 over a domain-separated message holding both, so neither the row
nor the scope can be changed, and no other use of the secret yields a valid token.

Tokens are signed with the current secret and checked against it and the previous ones,
so rotating the secret leaves the links in emails already sent working.

Emails sent before this format carried ``<base64 address>.<mac>`` tokens, which stopped
everything. They are honoured only when one of the configured secrets verifies them
(they were issued by us, and a recipient must be able to use last week's link); since
they name no incident, they can only stop everything. Once every secret that signed them
is gone, they stop working like any other unverifiable token.
"""

import base64
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from broadcaster.domain.signing import signature, signed_by_one_of

MAC_BYTES = 16
_DOMAIN = b"broadcaster unsubscribe v2\x00"
_DELIVERY_ID = re.compile(r"[1-9][0-9]{0,18}")  # canonical decimal only: one row, one spelling


class InvalidToken(ValueError):
    pass


class Scope(StrEnum):
    INCIDENT = "incident"  # this incident's updates: the "list" of RFC 2369/8058
    EVERYTHING = "all"  # every email from us, about any incident, now or later


@dataclass(frozen=True)
class DeliveryToken:
    delivery_id: int
    scope: Scope


@dataclass(frozen=True)
class AddressToken:
    """An old-format token: an address signed by one of our secrets, meaning "stop everything"."""

    email: str
    scope: Scope = Scope.EVERYTHING


Claim = DeliveryToken | AddressToken


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(message: bytes, secret: str) -> str:
    return signature(message, secret, size=MAC_BYTES, encode=_b64)


def _message(delivery_id: int, scope: Scope) -> bytes:
    return _DOMAIN + f"{delivery_id}\x00{scope.value}".encode()


@lru_cache(maxsize=256)  # an email's unsubscribe and manage links carry the same token: signed once
def sign(delivery_id: int, scope: Scope, secret: str) -> str:
    return f"{delivery_id}.{scope.value}.{_mac(_message(delivery_id, scope), secret)}"


def _signed_message(claim: Claim) -> bytes:
    return _message(claim.delivery_id, claim.scope) if isinstance(claim, DeliveryToken) else claim.email.encode()


def _made_by_one_of(message: bytes, mac: str, secrets: tuple[str, ...]) -> bool:
    return signed_by_one_of(message, mac, secrets, size=MAC_BYTES, encode=_b64)


def verify(token: str, secrets: tuple[str, ...]) -> Claim:
    """What a token allows, if one of ``secrets`` made it; InvalidToken otherwise."""
    parts = token.split(".")
    claim = _claim(parts)
    if claim is None:
        raise InvalidToken("malformed unsubscribe token")
    if not _made_by_one_of(_signed_message(claim), parts[-1], secrets):
        raise InvalidToken("unsubscribe token does not match")
    return claim


def _claim(parts: list[str]) -> Claim | None:
    if len(parts) == 3:
        return _delivery_claim(parts)
    return _address_claim(parts) if len(parts) == 2 else None


def _delivery_claim(parts: list[str]) -> DeliveryToken | None:
    delivery_id, scope, _ = parts
    if not _DELIVERY_ID.fullmatch(delivery_id) or scope not in {s.value for s in Scope}:
        return None
    return DeliveryToken(int(delivery_id), Scope(scope))


def _address_claim(parts: list[str]) -> AddressToken | None:
    """The address of an old-format token, if it looks like one (a MAC over anything else is not ours to honour)."""
    try:
        email = _unb64(parts[0]).decode()
    except ValueError:  # bad base64, or not UTF-8 (UnicodeDecodeError is a ValueError)
        return None
    if "@" not in email or not email.isprintable():
        return None
    return AddressToken(email)


class Purpose(StrEnum):
    """What else the same secret signs, each under its own domain so no token passes for another kind."""

    VIEW = "view"  # a delivery id: its reader may open the incident page, even a private one
    FOLLOW = "follow"  # a delivery id: the follow-confirmation email whose link confirms its subscriber
    FORM = "form"  # a form's double-submit value (broadcaster/pages/forms.py)


def _purpose_message(purpose: Purpose, payload: str) -> bytes:
    return f"broadcaster {purpose.value} v1\x00{payload}".encode()


def seal(purpose: Purpose, payload: str, secret: str) -> str:
    """``<payload>.<mac>``: the payload (no dots) signed for one purpose."""
    if "." in payload:
        raise ValueError("a sealed payload has no dots")
    return f"{payload}.{_mac(_purpose_message(purpose, payload), secret)}"


def unseal(token: str, purpose: Purpose, secrets: tuple[str, ...]) -> str:
    """The payload of a token one of ``secrets`` sealed for ``purpose``; InvalidToken otherwise."""
    payload, dot, mac = token.partition(".")
    if not dot or not payload or not _made_by_one_of(_purpose_message(purpose, payload), mac, secrets):
        raise InvalidToken(f"this {purpose.value} link is not valid")
    return payload


def unseal_delivery(token: str, purpose: Purpose, secrets: tuple[str, ...]) -> int:
    """The delivery id a token names, for a purpose whose payload is one."""
    payload = unseal(token, purpose, secrets)
    if not _DELIVERY_ID.fullmatch(payload):
        raise InvalidToken(f"this {purpose.value} link is not valid")
    return int(payload)
