"""Unsubscribe tokens: nobody can make one without our secret, and none shows the address."""

import base64
import hashlib
import hmac

import pytest

from broadcaster.domain.unsubscribe import AddressToken, DeliveryToken, InvalidToken, Scope, sign, verify
from broadcaster.messages.sender import Sender
from broadcaster.production import DEVELOPMENT_SECRET

PRODUCTION = "p" * 40
OLD, NEWER = "o" * 40, "n" * 40


def legacy_token(email: str, secret: str) -> str:
    """A token as emails sent before the delivery-based format carried it."""
    encode = lambda data: base64.urlsafe_b64encode(data).decode().rstrip("=")  # noqa: E731
    return f"{encode(email.encode())}.{encode(hmac.new(secret.encode(), email.encode(), hashlib.sha256).digest()[:16])}"


def test_a_token_names_the_email_and_its_scope() -> None:
    for scope in Scope:
        assert verify(sign(42, scope, PRODUCTION), (PRODUCTION,)) == DeliveryToken(42, scope)


def test_a_token_forged_with_the_development_secret_is_refused_in_production() -> None:
    with pytest.raises(InvalidToken, match="does not match"):
        verify(sign(42, Scope.EVERYTHING, DEVELOPMENT_SECRET), (PRODUCTION,))


@pytest.mark.parametrize("tamper", [
    lambda token: token.replace(".incident.", ".all."),  # widen the scope
    lambda token: "43" + token[2:],  # another person's email
    lambda token: "042" + token[2:],  # the same email, spelled otherwise
    lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
])
def test_a_token_with_anything_changed_is_refused(tamper) -> None:
    token = sign(42, Scope.INCIDENT, PRODUCTION)
    with pytest.raises(InvalidToken):
        verify(tamper(token), (PRODUCTION,))


@pytest.mark.parametrize("token", ["", "42", "42.incident", "42.nothing.AAAA", "x.y.z.w", "42.all.é", "é.AAAA",
                                   "AAAA.AAAA"])
def test_malformed_tokens_are_refused_without_crashing(token: str) -> None:
    with pytest.raises(InvalidToken):
        verify(token, (PRODUCTION,))


def test_no_token_contains_the_address_even_in_base64() -> None:
    email = "eric.olsen@example.com"
    sender = Sender("Example", "Example Support", PRODUCTION, "https://status.example.com")
    url = sender.unsubscribe_url(sender.incident_token(7))
    token = url.split("token=")[1]
    assert email not in url
    for offset in range(3):  # base64 of the address, however it is aligned in what was encoded
        chunk = base64.urlsafe_b64encode(("x" * offset + email).encode()).decode()[4:20]
        assert chunk not in token
    delivery_id, scope, mac = token.split(".")
    assert (delivery_id, scope, len(mac)) == ("7", "incident", 22)  # the row, the scope, 16 bytes of MAC


def test_rotation_keeps_old_links_working_until_their_secret_is_removed() -> None:
    token = sign(42, Scope.INCIDENT, OLD)
    assert verify(token, (NEWER, OLD)) == DeliveryToken(42, Scope.INCIDENT)
    with pytest.raises(InvalidToken):
        verify(token, (NEWER,))


def test_old_address_tokens_stop_everything_only_when_one_of_our_secrets_made_them() -> None:
    token = legacy_token("ann@example.com", OLD)
    assert verify(token, (NEWER, OLD)) == AddressToken("ann@example.com", Scope.EVERYTHING)
    with pytest.raises(InvalidToken):
        verify(token, (NEWER,))
    with pytest.raises(InvalidToken):
        verify(legacy_token("ann@example.com", DEVELOPMENT_SECRET), (PRODUCTION,))


def test_a_new_tokens_mac_cannot_pass_as_an_old_token() -> None:
    """Old tokens sign the raw address: the MAC of a new token is over another, domain-separated message."""
    mac = sign(42, Scope.EVERYTHING, PRODUCTION).split(".")[2]
    message = b"broadcaster unsubscribe v2\x0042\x00all"
    with pytest.raises(InvalidToken):
        verify(f"{base64.urlsafe_b64encode(message).decode().rstrip('=')}.{mac}", (PRODUCTION,))
