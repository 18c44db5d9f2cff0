"""The embedded mail backend: one standard .eml file per recipient, in a folder.

Every write gets a file of its own (never overwritten), so a duplicate send shows up
as a second file: the outbox is as honest about exactly-once as a mail API would be.
"""

import os
import uuid
from collections.abc import Sequence
from pathlib import Path

from broadcaster.domain.email import OutgoingEmail, SendResult
from broadcaster.mail.mime import to_mime


class OutboxMailer:
    def __init__(self, directory: Path, from_email: str, from_name: str) -> None:
        self._directory = directory
        self._from = (from_email, from_name)

    def describe(self) -> str:
        return f"outbox folder {self._directory.resolve()}"

    def send(self, emails: Sequence[OutgoingEmail]) -> list[SendResult]:
        self._directory.mkdir(parents=True, exist_ok=True)
        return [self._write(email) for email in emails]

    def _write(self, email: OutgoingEmail) -> SendResult:
        message = to_mime(email, *self._from)
        name = f"{email.delivery_id:09d}-{uuid.uuid4().hex[:8]}.eml"
        partial = self._directory / f".{name}.partial"
        try:
            partial.write_bytes(message.as_bytes())
            os.replace(partial, self._directory / name)
        except OSError as error:
            return SendResult(email.delivery_id, False, f"outbox write failed: {error}", True)
        return SendResult(email.delivery_id, True)
