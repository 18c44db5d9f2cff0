"""Compose one person's email about one incident update.

The wording follows what customers told us they want (see ../shared/seeds): their
name, their own report, a plain account of what is known, an apology without
grovelling, when they will hear from us next, how to check the fix, and thanks.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from typing import TYPE_CHECKING, NamedTuple

from markupsafe import escape

from broadcaster.domain.email import OutgoingEmail, SharedContent
from broadcaster.domain.incidents import status_label
from broadcaster.domain.notifications import NotificationKind
from broadcaster.domain.unsubscribe import Scope, sign

if TYPE_CHECKING:  # jinja2 is imported when the first email is rendered: CLI commands that render none skip it
    from jinja2 import Environment

EXCERPT_LENGTH = 160


@dataclass(frozen=True)
class Sender:
    product_name: str
    team_name: str
    unsubscribe_secret: str = "embedded-only-change-me"
    public_url: str = "http://127.0.0.1:6066"

    def unsubscribe_url(self, delivery_id: int) -> str:
        """The email's link, also its List-Unsubscribe header; a one-click POST to it stops this incident's emails.

        RFC 8058 one-click happens in the mail client, without our page: its "unsubscribe" is
        about the list the message came from, which for us is this incident's updates. Stopping
        everything would also silence the acknowledgement of the next problem this person reports;
        the page the link opens offers that too.
        """
        token = sign(delivery_id, Scope.INCIDENT, self.unsubscribe_secret)
        return f"{self.public_url.rstrip('/')}/unsubscribe?token={token}"


@dataclass(frozen=True)
class EmailFacts:
    """Everything one email needs to say, read from the ledger row and what it points at."""

    delivery_id: int
    kind: NotificationKind
    to_email: str
    to_name: str
    report_text: str
    reported_at: datetime
    incident_id: str
    incident_title: str
    status: str
    description: str
    workaround: str
    update_message: str
    update_at: datetime
    next_update_at: datetime | None
    how_to_verify: str
    update_key: str = ""  # the ledger's update id: emails with the same key share their content
    affected: bool = False  # the person did not write: the engineers know the problem affected them

    @property
    def content_key(self) -> str:
        """Emails with the same key share their content: one update, one kind, one audience."""
        return f"{self.kind.value}:{self.update_key}" + (":affected" if self.affected else "")


_SUBJECT_ENDINGS = {
    NotificationKind.ACKNOWLEDGEMENT: "we are on it",
    NotificationKind.PROGRESS: "progress update",
    NotificationKind.HOLDING: "still working on it",
    NotificationKind.RESOLUTION: "fixed",
    NotificationKind.FIXED_REPLY: "already fixed, please try again",
    NotificationKind.AFFECTED: "it affected you, and we are on it",
}


def subject(facts: EmailFacts) -> str:
    return f"[{status_label(facts.status)}] {facts.incident_title}: {_SUBJECT_ENDINGS[facts.kind]}"


@lru_cache(maxsize=4096)  # a page's people mostly share a few moments (an import's, an update's)
def when(moment: datetime) -> str:
    """``Tuesday 24 November at 16:15 UTC``: unambiguous in every country."""
    return f"{moment:%A} {moment.day} {moment:%B} at {moment:%H:%M} UTC"


def excerpt(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) <= EXCERPT_LENGTH:
        return flat
    return flat[: EXCERPT_LENGTH - 1].rsplit(" ", 1)[0] + "…"


def first_name(full_name: str) -> str:
    return full_name.split()[0] if full_name.split() else full_name


@cache
def _environment() -> "Environment":
    """Templates ending in .html escape everything they insert; .txt ones are plain text."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    environment = Environment(
        loader=PackageLoader("broadcaster.messages", "templates"),
        autoescape=select_autoescape(["html"], default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # the templates ship with the code: no stat() of each file per render
    )
    environment.filters["when"] = when
    return environment


def _render(template: str, **context: object) -> str:
    return _environment().get_template(template).render(**context)


class Personal(NamedTuple):
    """What differs from one recipient of an update to the next (a tuple: it is unpacked per recipient)."""

    name: str
    report_excerpt: str
    reported_when: str
    unsubscribe_url: str


TEXT_TAGS = Personal("-bc_name-", "-bc_excerpt-", "-bc_reported-", "-bc_unsubscribe-")
HTML_TAGS = Personal("-bc_name_html-", "-bc_excerpt_html-", "-bc_reported_html-", "-bc_unsubscribe_html-")
_TAG = re.compile("|".join(re.escape(tag) for tags in (TEXT_TAGS, HTML_TAGS) for tag in tags))


def personal(facts: EmailFacts, sender: Sender) -> Personal:
    return Personal(first_name(facts.to_name), excerpt(facts.report_text), when(facts.reported_at),
                    sender.unsubscribe_url(facts.delivery_id))


def substitutions(values: Personal) -> dict[str, str]:
    """Tag -> value for both parts; HTML values escaped, since substitution happens after rendering."""
    text = dict(zip(TEXT_TAGS, values, strict=True))
    html = {tag: str(escape(value)) for tag, value in zip(HTML_TAGS, values, strict=True)}
    return text | html


def fill(template: str, values: dict[str, str]) -> str:
    """Replace every tag in one pass, so a value that happens to contain a tag stays as written."""
    return _TAG.sub(lambda match: values[match.group(0)], template)


def _render_shared(facts: EmailFacts, sender: Sender) -> SharedContent:
    """The update's email once, with tags where each person's details go."""
    common = {"facts": facts, "sender": sender, "status": status_label(facts.status)}
    text = _render(f"{facts.kind.value}.txt", **common, **TEXT_TAGS._asdict())
    html = _render(f"{facts.kind.value}.html", **common, **HTML_TAGS._asdict())
    return SharedContent(facts.content_key, subject(facts), text, html)


def compose_group(group: Sequence[EmailFacts], sender: Sender) -> list[OutgoingEmail]:
    """One email per person for facts that share their content key: rendered once, filled per person."""
    if not group:
        return []
    shared = _render_shared(group[0], sender)
    emails = []
    for facts in group:
        values = substitutions(personal(facts, sender))
        unsubscribe = values[TEXT_TAGS.unsubscribe_url]
        emails.append(OutgoingEmail(
            delivery_id=facts.delivery_id, to_email=facts.to_email, to_name=facts.to_name, subject=shared.subject,
            text=fill(shared.text, values), html=fill(shared.html, values),
            headers={"X-Broadcaster-Incident": facts.incident_id, "X-Broadcaster-Kind": facts.kind.value,
                     "X-Broadcaster-Delivery": str(facts.delivery_id),
                     "List-Unsubscribe": f"<{unsubscribe}>",  # RFC 8058 one-click
                     "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
            shared=shared, substitutions=values,
        ))
    return emails


def compose(facts: EmailFacts, sender: Sender) -> OutgoingEmail:
    return compose_group([facts], sender)[0]


def compose_owner_reminder(
    incident_id: str, title: str, owner_email: str, promise_at: datetime, grace: str, sender: Sender
) -> OutgoingEmail:
    """The note to an incident's owner that a promised update falls due."""
    text = _render("owner_reminder.txt", incident_id=incident_id, title=title, promise_at=promise_at,
                   grace=grace, team_name=sender.team_name)
    return OutgoingEmail(
        delivery_id=0, to_email=owner_email, to_name=owner_email, subject=f"Update due on {incident_id} by {when(promise_at)}",
        text=text, html=f"<pre>{escape(text)}</pre>",
        headers={"X-Broadcaster-Incident": incident_id, "X-Broadcaster-Kind": "owner_reminder"},
    )
