"""The embedded mail backend: one standard .eml file per recipient, in a folder.

An idempotent sink: a delivery's file is named by its ledger id and created only if it
does not exist yet, so a send repeated after a crash (the mail was written, the ledger
not yet updated) leaves one file, not two. Mail that is not a ledger delivery (owner
reminders) gets a file of its own each time.
"""

import os
import uuid
from collections.abc import Sequence
from pathlib import Path

from broadcaster.domain.email import OutgoingEmail, SendResult, unsendable
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
        problem = unsendable(email)
        if problem:
            return SendResult(email.delivery_id, False, problem)
        try:
            message = to_mime(email, *self._from)
        except Exception as error:  # noqa: BLE001 - this one email is dead; the others go out
            return SendResult(email.delivery_id, False, f"cannot be written as MIME: {type(error).__name__}")
        name = f"{email.delivery_id:09d}.eml" if email.delivery_id > 0 else f"note-{uuid.uuid4().hex}.eml"
        partial = self._directory / f".{name}.{uuid.uuid4().hex[:8]}.partial"
        try:
            partial.write_bytes(message)
            os.link(partial, self._directory / name)  # fails if the file exists: never two of one delivery
        except FileExistsError:
            pass  # already delivered before a crash: the outcome we want
        except OSError as error:
            return SendResult(email.delivery_id, False, f"outbox write failed: {error}", True)
        finally:
            partial.unlink(missing_ok=True)
        return SendResult(email.delivery_id, True)
