"""Who sends our emails, and the links and tokens every email carries (signed with its secret)."""

import zlib
from dataclasses import dataclass
from datetime import timedelta

from broadcaster.domain import replies
from broadcaster.domain.unsubscribe import Purpose, Scope, seal, sign


@dataclass(frozen=True)
class Sender:
    product_name: str
    team_name: str
    unsubscribe_secret: str = "embedded-only-change-me"  # also signs reply addresses (domain-separated)
    public_url: str = "http://127.0.0.1:6066"
    pages_url: str = "http://127.0.0.1:6080"  # where `broadcaster serve` shows incident pages (broadcaster/pages)
    support_email: str = "support@example.com"
    communicators: tuple[str, ...] = ()  # the roster: who signs when a declaration names nobody
    default_time_zone: str = "UTC"  # for readers who did not say where they are
    default_locale: str = "en_GB"
    promise_minimum: timedelta = timedelta(minutes=30)
    escalate_after: int = 2  # holding updates in a row before the emails say it is taking longer than hoped

    def signer(self, incident_id: str) -> str | None:
        """The roster's person for this incident: the same one every time, on every worker (CRC-32, not hash())."""
        if not self.communicators:
            return None
        return self.communicators[zlib.crc32(incident_id.encode()) % len(self.communicators)]

    def from_name(self, communicator: str | None) -> str:
        """From's display name: ``Angela B. at Example Support``, or the team's name when nobody signs."""
        return f"{communicator} at {self.team_name}" if communicator else self.team_name

    def incident_token(self, delivery_id: int) -> str:
        """What an email's unsubscribe and manage links carry: the right to stop (or resume) this incident's emails."""
        return sign(delivery_id, Scope.INCIDENT, self.unsubscribe_secret)

    def unsubscribe_url(self, token: str) -> str:
        """The email's link (``token``: its :meth:`incident_token`), also its List-Unsubscribe header; a one-click
        POST to it stops this incident's emails.

        RFC 8058 one-click happens in the mail client, without our page: its "unsubscribe" is
        about the list the message came from, which for us is this incident's updates. Stopping
        everything would also silence the acknowledgement of the next problem this person reports;
        the page the link opens offers that too.
        """
        return f"{self.public_url.rstrip('/')}/unsubscribe?token={token}"

    def page_url(self, incident_id: str, delivery_id: int, private: bool) -> str:
        """The incident's page; a private one's link carries a token that lets this email's reader in."""
        url = f"{self.pages_url.rstrip('/')}/incidents/{incident_id}"
        return f"{url}?token={seal(Purpose.VIEW, str(delivery_id), self.unsubscribe_secret)}" if private else url

    def manage_url(self, token: str) -> str:
        """The page where this email's reader (``token``: its :meth:`incident_token`) stops or resumes this
        incident's emails or all of them."""
        return f"{self.pages_url.rstrip('/')}/manage?token={token}"

    def confirm_url(self, delivery_id: int) -> str:
        """The link in a follow-confirmation email that makes its reader a subscriber."""
        token = seal(Purpose.FOLLOW, str(delivery_id), self.unsubscribe_secret)
        return f"{self.pages_url.rstrip('/')}/follow/confirm?token={token}"

    def reply_token(self, delivery_id: int) -> str:
        """What the email's Reply-To carries after the ``+``: a reply to it is stored with its incident."""
        return replies.sign(delivery_id, self.unsubscribe_secret)
