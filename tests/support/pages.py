"""Incidents for the page tests, made through the real services at the real time, and links from real emails."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from broadcaster.bootstrap import Services
from broadcaster.domain.events import BugReportReceived, IncidentDeclared, IncidentResolved, IncidentUpdated
from broadcaster.domain.notifications import NotificationKind
from broadcaster.services import composing
from broadcaster.services.incidents import apply_incident_event
from broadcaster.services.linking import LinkingModel
from broadcaster.services.reports import receive_report
from broadcaster.storage.database import transaction
from broadcaster.storage.models import Delivery

FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def declared_event(incident_id: str, title: str = "CSV upload fails", **details: object) -> IncidentDeclared:
    """A declaration now, of an incident about CSV uploads in groups, with its next update in an hour."""
    now = datetime.now(UTC)
    return IncidentDeclared(f"declare-{incident_id}-{now.timestamp()}", incident_id, now, title, "groups",
                            str(details.pop("severity", "sev2")), now + timedelta(hours=1), ("csv upload",),
                            **details)  # type: ignore[arg-type]


@dataclass
class Desk:
    """Declares, updates and resolves incidents on one database, as the worker would apply them."""

    services: Services

    def __post_init__(self) -> None:
        self.model = LinkingModel(self.services.settings)
        self.events = 0

    def apply(self, event: object) -> None:
        with transaction(self.services.sessions) as session:
            apply_incident_event(session, event, now=datetime.now(UTC), model=self.model)  # type: ignore[arg-type]

    def _id(self) -> str:
        self.events += 1
        return f"e{self.events}-{datetime.now(UTC).timestamp()}"

    def declare(self, incident_id: str, title: str, workaround: str = "", severity: str = "sev2") -> None:
        self.apply(declared_event(incident_id, title, workaround=workaround, severity=severity))

    def update(self, incident_id: str, message: str, status: str | None = None) -> None:
        now = datetime.now(UTC)
        self.apply(IncidentUpdated(self._id(), incident_id, now, message, now + timedelta(hours=1), status=status))

    def resolve(self, incident_id: str, message: str, how_to_verify: str) -> None:
        self.apply(IncidentResolved(self._id(), incident_id, datetime.now(UTC), message, how_to_verify))

    def report(self, email: str, text: str = "CSV upload to pre-approved members fails") -> int:
        """A report that links to the open CSV incident; the id of the acknowledgement queued for it."""
        event = BugReportReceived(f"r-{self._id()}", datetime.now(UTC), email, email.split("@")[0].title(), text,
                                  "groups", "web")
        with transaction(self.services.sessions) as session:
            return receive_report(session, event, now=datetime.now(UTC), model=self.model).delivery_ids[0]

    def email_text(self, delivery_id: int) -> str:
        """The plain-text part of the email the ledger row would send."""
        with self.services.sessions() as session:
            [email] = composing.compose_claimed(session, [delivery_id], self.services.sender).emails
        return email.text

    def deliveries(self, kind: NotificationKind) -> list[int]:
        with self.services.sessions() as session:
            return list(session.scalars(select(Delivery.id).where(Delivery.kind == kind).order_by(Delivery.id)))


def link(text: str, path: str) -> str:
    """The first link in an email's text to ``path`` on our pages."""
    found = re.search(rf"https?://\S+{re.escape(path)}\S*", text)
    assert found, f"no {path} link in:\n{text}"
    return found.group(0)


def form_token(client: httpx.Client, url: str) -> str:
    """Open a page as a browser does (its cookie kept by the client) and read its form token."""
    page = client.get(url)
    assert page.status_code == 200, page.text
    found = FORM_TOKEN.search(page.text)
    assert found, page.text
    return found.group(1)
