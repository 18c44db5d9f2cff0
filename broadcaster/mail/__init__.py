"""How emails leave: one interface (:class:`Mailer`), an outbox folder and SendGrid behind it."""

from collections.abc import Sequence
from typing import Protocol

from broadcaster.domain.email import OutgoingEmail, SendResult


class Mailer(Protocol):
    def send(self, emails: Sequence[OutgoingEmail]) -> list[SendResult]:
        """Send each email to its one recipient; report per email, never raise for one bad address."""
        ...

    def describe(self) -> str:
        """Where the mail goes, for people reading ``broadcaster up``."""
        ...
