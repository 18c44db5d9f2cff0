"""Addresses that get no more email (the ledger keeps deliveries away from them when it claims)."""

from datetime import datetime

from sqlalchemy.orm import Session

from broadcaster.storage.models import Suppression
from broadcaster.storage.upsert import insert_ignoring_duplicates


def suppress(session: Session, email: str, reason: str, now: datetime) -> bool:
    """Stop all email to ``email``; True if it was not suppressed before."""
    row = {"email": email.strip().lower(), "reason": reason, "created_at": now}
    return insert_ignoring_duplicates(session, Suppression, [row], unique=("email",)) == 1
