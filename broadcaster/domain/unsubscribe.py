"""Signed unsubscribe tokens: a link in every email that only its recipient's address can use."""

import base64
import hashlib
import hmac


class InvalidToken(ValueError):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(email: str, secret: str) -> str:
    address = email.strip().lower().encode()
    digest = hmac.new(secret.encode(), address, hashlib.sha256).digest()[:16]
    return f"{_b64(address)}.{_b64(digest)}"


def verify(token: str, secret: str) -> str:
    """The address a token was made for; InvalidToken if it was not made with this secret."""
    try:
        encoded, _ = token.split(".", 1)
        email = _unb64(encoded).decode()
    except (ValueError, UnicodeDecodeError):
        raise InvalidToken("malformed unsubscribe token") from None
    if not hmac.compare_digest(sign(email, secret), token):
        raise InvalidToken("unsubscribe token does not match")
    return email
