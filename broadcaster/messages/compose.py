"""Compose one person's email about one incident update.

The wording follows what customers told us they want (see ../shared/seeds): their
name, their own report, a plain account of what is known, an apology without
grovelling, when they will hear from us next, how to check the fix, and thanks.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import TYPE_CHECKING, NamedTuple

from markupsafe import escape

from broadcaster.domain import replies
from broadcaster.domain.email import OutgoingEmail, SharedContent
from broadcaster.domain.incidents import status_label
from broadcaster.domain.notifications import NotificationKind
from broadcaster.domain.triage import WaitingReport, due_label
from broadcaster.messages import wording
from broadcaster.messages.sender import Sender
from broadcaster.messages.times import ReaderTime, clock_time, promise, spoken_duration
from broadcaster.messages.times import when as local_when

if TYPE_CHECKING:  # jinja2 is imported when the first email is rendered: CLI commands that render none skip it
    from jinja2 import Environment

EXCERPT_LENGTH = 160


def _reader(time_zone: str | None, locale: str | None, sender: Sender) -> ReaderTime:
    """How a reader reads times: where and how they said, else the sender's defaults."""
    return ReaderTime(time_zone or sender.default_time_zone, locale or sender.default_locale, own=time_zone is not None)


@dataclass(slots=True)
class EmailFacts:
    """Everything one email needs to say, read from the ledger row and what it points at.

    A value nobody changes once made, but not a frozen dataclass: a fan-out makes one per
    recipient, and a frozen one's 30 fields cost 5 µs more to set each time.
    """

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
    private: bool = False  # the incident's page needs the token in the reader's email
    follower: bool = False  # the person followed the incident from its page: they reported nothing
    affected: bool = False  # the person did not write: the engineers know the problem affected them
    severity: str = "sev3"
    communicator: str | None = None
    declared_at: datetime | None = None
    time_zone: str | None = None  # the reader's, when they said; else the sender's default
    locale: str | None = None
    followed_up_at: datetime | None = None  # when they wrote again, if no email has gone to them since
    holding_in_a_row: int = 0  # for a holding update: how many there have been since the last news
    latest_news: str = ""  # for a holding update: the team's last word (a progress update or a shareable note)
    latest_news_at: datetime | None = None
    latest_news_from_note: bool = False  # what it quotes is an engineer's shared note, not an email they had

    def reader(self, sender: "Sender") -> ReaderTime:
        return _reader(self.time_zone, self.locale, sender)


@dataclass(frozen=True)
class ReceiptFacts:
    """What a triage receipt says: to whom, their own words, and by when a person will have looked."""

    delivery_id: int
    report_id: str
    to_email: str
    to_name: str
    report_text: str
    reported_at: datetime
    reply_by: datetime | None  # the report's triage promise; a report without one gets no receipt
    time_zone: str | None = None  # the reporter's, when they said
    locale: str | None = None

    def reader(self, sender: "Sender") -> ReaderTime:
        return _reader(self.time_zone, self.locale, sender)


_SUBJECT_ENDINGS = {
    NotificationKind.ACKNOWLEDGEMENT: "we are on it",
    NotificationKind.PROGRESS: "progress update",
    NotificationKind.HOLDING: "still working on it",
    NotificationKind.RESOLUTION: "fixed",
    NotificationKind.FIXED_REPLY: "already fixed, please try again",
    NotificationKind.FOLLOW_CONFIRMATION: "please confirm you want updates",
    NotificationKind.REOPENED: "not fixed after all, we are on it again",
    NotificationKind.AFFECTED: "it affected you, and we are on it",
}


def subject(facts: EmailFacts) -> str:
    return f"[{status_label(facts.status)}] {facts.incident_title}: {_SUBJECT_ENDINGS[facts.kind]}"


@lru_cache(maxsize=4096)  # a page's people mostly share a few moments (an import's, an update's)
def when(moment: datetime) -> str:
    """``Tuesday 24 November at 16:15 UTC``: for engineers (owner reminders), who work in UTC."""
    return local_when(moment)


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


def load_templates() -> None:
    """Compile every template now: a worker does it as it starts, not while the first email's reader waits
    (the first page of a fan-out took 70 ms longer to compose than the next)."""
    environment = _environment()
    for name in environment.list_templates():
        environment.get_template(name)


def _render(template: str, **context: object) -> str:
    return _environment().get_template(template).render(**context)


class Personal(NamedTuple):
    """What differs from one recipient of an update to the next (a tuple: it is unpacked per recipient)."""

    name: str
    report_excerpt: str
    reported_when: str
    unsubscribe_url: str
    page_url: str
    manage_url: str
    follow_up_time: str  # when they wrote again ("10:32"), or empty


TEXT_TAGS = Personal("-bc_name-", "-bc_excerpt-", "-bc_reported-", "-bc_unsubscribe-", "-bc_page-", "-bc_manage-",
                     "-bc_followup-")
HTML_TAGS = Personal("-bc_name_html-", "-bc_excerpt_html-", "-bc_reported_html-", "-bc_unsubscribe_html-",
                     "-bc_page_html-", "-bc_manage_html-", "-bc_followup_html-")
_HTML_SPECIAL = re.compile(r"[&<>\"']")  # what markupsafe's escape replaces
REPLY_TAG = "-bc_reply-"  # the reply token in the shared Reply-To (SendGrid substitutes in reply-to too)


def personal(facts: EmailFacts, sender: Sender, reader: ReaderTime, reported_when: str) -> Personal:
    """One person's details, in ``reader``'s time (their group's: one zone and locale); ``reported_when`` is
    :func:`~broadcaster.messages.times.when` of their report, worked out once for everyone who wrote in that minute."""
    follow_up = clock_time(facts.followed_up_at, reader) if facts.followed_up_at else ""
    token = sender.incident_token(facts.delivery_id)  # one signature for both links
    return Personal(first_name(facts.to_name), excerpt(facts.report_text), reported_when, sender.unsubscribe_url(token),
                    sender.page_url(facts.incident_id, facts.delivery_id, facts.private), sender.manage_url(token),
                    follow_up)


def content_key(facts: EmailFacts) -> str:
    """Emails with the same key are rendered once: the same update, kind, reader's zone and locale, follow-up or
    not, and audience (reporter, follower, affected). A follow confirmation carries its own link, so it shares nothing."""
    reader = f"{facts.time_zone or ''}:{facts.locale or ''}"
    own = f":{facts.delivery_id}" if facts.kind is NotificationKind.FOLLOW_CONFIRMATION else ""
    audience = "affected" if facts.affected else "follower" if facts.follower else "reporter"
    return f"{facts.kind.value}:{facts.update_key}:{reader}:{'follow-up' if facts.followed_up_at else ''}:{audience}{own}"


class Slots(NamedTuple):
    """Where each person's details go in a group's shared content, and what is filled per person.

    A detail everyone in the group shares (the incident's page, the time an import was made,
    an empty excerpt) is written into the content itself; the others are tags filled per
    person. In the HTML part a field has its own tag only where someone's value needs
    escaping; elsewhere the text tag serves both parts. Each tag filled costs a dictionary
    entry per person to build and about 60 bytes per person to send.
    """

    text: Personal  # what the text template inserts: a value, or its tag
    html: Personal  # what the HTML template inserts (it escapes a value itself)
    varying: tuple[int, ...]  # the fields filled per person
    escaped: tuple[int, ...]  # those of them with an HTML tag of their own

    def substitutions(self, person: Personal) -> dict[str, str]:
        """Tag -> this person's value; values for the HTML part's own tags escaped (substitution follows rendering)."""
        found = {self.text[field]: person[field] for field in self.varying}
        for field in self.escaped:
            found[self.html[field]] = str(escape(person[field]))
        return found


def slots(people: Sequence[Personal]) -> Slots:
    """The :class:`Slots` of a group: one set comparison per field, one search per field over everyone's values."""
    shared = [people[0][field] if len({person[field] for person in people}) == 1 and "-bc_" not in people[0][field]
              else None for field in range(len(TEXT_TAGS))]  # a value holding a tag would be filled in by mistake
    varying = tuple(field for field, value in enumerate(shared) if value is None)
    escaped = tuple(field for field in varying  # joined by a character that needs no escaping
                    if _HTML_SPECIAL.search("\n".join([person[field] for person in people])))
    html_tags = Personal(*(HTML_TAGS[field] if field in escaped else tag for field, tag in enumerate(TEXT_TAGS)))
    return Slots(Personal(*(tag if value is None else value for tag, value in zip(TEXT_TAGS, shared, strict=True))),
                 Personal(*(tag if value is None else value for tag, value in zip(html_tags, shared, strict=True))),
                 varying, escaped)


def _context(facts: EmailFacts, sender: Sender, now: datetime) -> dict[str, object]:
    """What the templates say beyond the facts: who signs, the promise in the reader's time, the wording for
    this status and severity (:mod:`broadcaster.messages.wording`)."""
    reader = facts.reader(sender)
    promised = promise(facts.next_update_at, now, sender.promise_minimum) if facts.next_update_at else None
    return {
        "facts": facts, "sender": sender, "status": status_label(facts.status),
        "signer": facts.communicator or sender.signer(facts.incident_id),
        "next_when": local_when(promised, reader) if promised else None,
        "update_when": local_when(facts.update_at, reader),
        "news_dated": wording.news_dated(local_when(facts.latest_news_at, reader), facts.latest_news_from_note)
        if facts.latest_news_at else None,
        "working_for": spoken_duration(now - facts.declared_at) if facts.declared_at else None,
        "say": wording.For(facts.kind, facts.status, facts.severity, facts.holding_in_a_row, sender.escalate_after,
                           wrote=not (facts.follower or facts.affected)),
    }


def _render_shared(facts: EmailFacts, sender: Sender, now: datetime, where: Slots) -> SharedContent:
    """The update's email once, with tags where each person's own details go."""
    common = {**_context(facts, sender, now), "confirm_url": sender.confirm_url(facts.delivery_id)}
    text = _render(f"{facts.kind.value}.txt", **common, **where.text._asdict())
    html = _render(f"{facts.kind.value}.html", **common, **where.html._asdict())
    reply_to = replies.reply_address(sender.support_email, REPLY_TAG)
    return SharedContent(content_key(facts), subject(facts), text, html, reply_to)


def compose_group(group: Sequence[EmailFacts], sender: Sender, now: datetime | None = None) -> list[OutgoingEmail]:
    """One email per person for facts that share a :func:`content_key`: rendered once, filled per person.

    ``now`` is when the emails are composed: no promise in them falls sooner than the
    sender's ``promise_minimum`` after it.
    """
    if not group:
        return []
    if len({content_key(facts) for facts in group}) > 1:
        return [email for facts in group for email in compose_group([facts], sender, now)]
    return compose_alike(group, sender, now)


def compose_alike(group: Sequence[EmailFacts], sender: Sender, now: datetime | None = None) -> list[OutgoingEmail]:
    """:func:`compose_group` for facts already known to share one :func:`content_key` (at least one)."""
    reader = group[0].reader(sender)  # one content key: one zone and locale
    reported = {moment: local_when(moment, reader) for moment in {facts.reported_at for facts in group}}
    people = [personal(facts, sender, reader, reported[facts.reported_at]) for facts in group]
    where = slots(people)
    shared = _render_shared(group[0], sender, now or datetime.now(UTC), where)
    from_name = sender.from_name(group[0].communicator or sender.signer(group[0].incident_id))
    emails = []
    for facts, person in zip(group, people, strict=True):
        values = where.substitutions(person)
        values[REPLY_TAG] = token = sender.reply_token(facts.delivery_id)
        emails.append(OutgoingEmail(
            delivery_id=facts.delivery_id, to_email=facts.to_email, to_name=facts.to_name, subject=shared.subject,
            from_name=from_name,
            own_text="", own_html="",  # filled from shared and substitutions if a mailer asks
            reply_to=replies.reply_address(sender.support_email, token),
            headers={"X-Broadcaster-Incident": facts.incident_id, "X-Broadcaster-Kind": facts.kind.value,
                     "X-Broadcaster-Delivery": str(facts.delivery_id),
                     "List-Unsubscribe": f"<{person.unsubscribe_url}>",  # RFC 8058 one-click
                     "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
            shared=shared, substitutions=values,
        ))
    return emails


def compose(facts: EmailFacts, sender: Sender, now: datetime | None = None) -> OutgoingEmail:
    return compose_group([facts], sender, now)[0]


def receipt_key(facts: ReceiptFacts, sender: Sender) -> str:
    """Receipts with the same key are rendered once: the same promised time, said in the same zone and locale."""
    reader, reply_by = facts.reader(sender), facts.reply_by.isoformat() if facts.reply_by else ""
    return f"{NotificationKind.TRIAGE_RECEIPT.value}:{reply_by}:{reader.time_zone}:{reader.locale}"


def compose_receipts(group: Sequence[ReceiptFacts], sender: Sender) -> list[OutgoingEmail]:
    """The note to each reporter whose report waits for a person: it arrived, and when they will hear back.

    Receipts that share a :func:`receipt_key` are rendered once and filled per person, as
    updates are: a burst of reports nobody has linked yet (an outage not declared) is a
    burst of receipts, and one request each held back everyone's acknowledgements.
    No unsubscribe link: a receipt answers the person's own message, once, like a support
    desk's auto-reply.
    """
    if any(facts.reply_by is None for facts in group):
        raise ValueError("a receipt promises a time: its report has no triage promise")
    first = group[0]
    reader = first.reader(sender)
    reply_by = local_when(first.reply_by, reader) if first.reply_by else ""
    reported = {moment: local_when(moment, reader) for moment in {facts.reported_at for facts in group}}
    people = [Personal(first_name(facts.to_name), excerpt(facts.report_text), reported[facts.reported_at], "", "", "", "")
              for facts in group]
    where = slots(people)
    common = {"signer": None, "reply_by": reply_by, "sender": sender}
    shared = SharedContent(receipt_key(first, sender), f"We have your message and will reply by {reply_by}",
                           _render("triage_receipt.txt", **common, **where.text._asdict()),
                           _render("triage_receipt.html", **common, **where.html._asdict()))
    return [OutgoingEmail(
        delivery_id=facts.delivery_id, to_email=facts.to_email, to_name=facts.to_name, subject=shared.subject,
        own_text="", own_html="",
        headers={"X-Broadcaster-Report": facts.report_id, "X-Broadcaster-Kind": NotificationKind.TRIAGE_RECEIPT.value,
                 "X-Broadcaster-Delivery": str(facts.delivery_id)},
        shared=shared, substitutions=where.substitutions(person),
    ) for facts, person in zip(group, people, strict=True)]


def compose_receipt(facts: ReceiptFacts, sender: Sender) -> OutgoingEmail:
    return compose_receipts([facts], sender)[0]


def compose_owner_reminder(
    incident_id: str, title: str, owner_email: str, promise_at: datetime, grace: str, sender: Sender,
    holding_in_a_row: int = 0,
) -> OutgoingEmail:
    """The note to an incident's owner (or, once holding updates keep coming, its second owner) that an update falls due."""
    text = _render("owner_reminder.txt", incident_id=incident_id, title=title, promise_at=promise_at,
                   grace=grace, team_name=sender.team_name, holding_in_a_row=holding_in_a_row)
    return _owner_note(incident_id, "owner_reminder", owner_email, f"Update due on {incident_id} by {when(promise_at)}",
                       text)


def compose_owner_regression(
    incident_id: str, title: str, owner_email: str, subscribers: int, excerpts: Sequence[str], sender: Sender
) -> OutgoingEmail:
    """The note to an incident's owner that people told it is fixed say it still fails."""
    text = _render("owner_regression.txt", incident_id=incident_id, title=title, subscribers=subscribers,
                   excerpts=excerpts, team_name=sender.team_name)
    return _owner_note(incident_id, "owner_regression", owner_email,
                       f"{incident_id} still fails for {subscribers} subscriber(s)", text)


def _owner_note(incident_id: str, kind: str, owner_email: str, subject: str, text: str) -> OutgoingEmail:
    """An email to an engineer: plain text, its HTML part the same text, not a ledger delivery."""
    return OutgoingEmail(
        delivery_id=0, to_email=owner_email, to_name=owner_email, subject=subject,
        own_text=text, own_html=f"<pre>{escape(text)}</pre>",
        headers={"X-Broadcaster-Incident": incident_id, "X-Broadcaster-Kind": kind},
    )


def compose_triage_reminder(owner_email: str, overdue: Sequence[WaitingReport], due_soon: Sequence[WaitingReport],
                            now: datetime, sender: Sender) -> OutgoingEmail:
    """The note to the triage owner listing the reports whose promise is missed, or nearly."""
    def shown(reports: Sequence[WaitingReport]) -> list[dict[str, str]]:
        return [{"id": r.report_id, "email": r.email, "excerpt": excerpt(r.text), "suggested": r.candidate_incident_id or "",
                 "due": due_label(r.due, now) if r.due else ""} for r in reports]

    text = _render("triage_reminder.txt", overdue=shown(overdue), due_soon=shown(due_soon), team_name=sender.team_name)
    counts = [f"{len(overdue)} overdue" if overdue else "", f"{len(due_soon)} due soon" if due_soon else ""]
    return OutgoingEmail(
        delivery_id=0, to_email=owner_email, to_name=owner_email,
        subject=f"Reports waiting for a person: {', '.join(c for c in counts if c)}",
        own_text=text, own_html=f"<pre>{escape(text)}</pre>", headers={"X-Broadcaster-Kind": "triage_reminder"},
    )
