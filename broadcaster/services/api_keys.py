"""API keys for the intake API: made here, shown once, kept only as the SHA-256 of the token.

A token is 32 random bytes (URL-safe base64, prefixed ``bk_`` so a leaked one is easy to
grep for). Its SHA-256 is what the table holds and what a request's key is looked up by;
the final comparison is constant-time, so a lookup's timing tells nothing of the hash.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.domain import input_rules as rules
from broadcaster.services.errors import CommandFailed
from broadcaster.storage.models import ApiKey

PREFIX = "bk_"


@dataclass(frozen=True)
class KeyInfo:
    id: int
    name: str
    created_at: datetime
    revoked_at: datetime | None


def digest(token: str) -> str:
    """What the table keeps of a token, and what a request's key is looked up by."""
    return hashlib.sha256(token.encode()).hexdigest()


def create(session: Session, name: str, now: datetime) -> str:
    """Store a new key called ``name`` and return its token: the only time anyone sees it."""
    try:
        name = rules.line(name, "name", max_length=100)
    except rules.InvalidInput as error:
        raise CommandFailed(f"not created: {error}") from None
    existing = session.scalar(select(ApiKey).where(ApiKey.name == name))
    if existing is not None and existing.revoked_at is not None:  # its reports still name it: never reused
        raise CommandFailed(f"an API key called {name!r} was revoked on {existing.revoked_at:%Y-%m-%d}, and a name "
                            "is not used twice: choose another name")
    if existing is not None:
        raise CommandFailed(f"an API key called {name!r} exists already; revoke it or choose another name")
    token = PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(name=name, token_sha256=digest(token), created_at=now))
    session.flush()
    return token


def listed(session: Session) -> list[KeyInfo]:
    keys = session.scalars(select(ApiKey).order_by(ApiKey.name))
    return [KeyInfo(key.id, key.name, key.created_at, key.revoked_at) for key in keys]


def revoke(session: Session, name: str, now: datetime) -> datetime | None:
    """Revoke the key called ``name``; when it was revoked before, that earlier time (nothing changes)."""
    key = session.scalar(select(ApiKey).where(ApiKey.name == name))
    if key is None:
        raise CommandFailed(f"no API key called {name!r}")
    earlier, key.revoked_at = key.revoked_at, key.revoked_at or now
    return earlier


def authenticate(session: Session, token: str) -> KeyInfo | None:
    """The live key whose token this is, else None."""
    token_sha256 = digest(token)
    key = session.scalar(select(ApiKey).where(ApiKey.token_sha256 == token_sha256))
    if key is None or key.revoked_at is not None or not hmac.compare_digest(key.token_sha256, token_sha256):
        return None
    return KeyInfo(key.id, key.name, key.created_at, key.revoked_at)
