"""An email addressed to one person: what every mail backend sends."""

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

_BREAKS_A_HEADER = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_ADDRESS = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+$")


@dataclass(frozen=True)
class SharedContent:
    """An update's email with tags for what differs per person: sent once for many recipients."""

    key: str
    subject: str
    text: str
    html: str
    reply_to: str | None = None  # with the tag where each person's reply token goes


@dataclass
class OutgoingEmail:
    """One person's email. With ``shared`` content its bodies are the shared ones with this person's
    ``substitutions`` filled in, made only when a mailer asks (:attr:`text`, :attr:`html`): SendGrid
    fills them itself, so its path never does.

    Nobody changes one once made; not frozen only because a fan-out makes one per recipient,
    and setting a frozen dataclass's fields costs three times as much."""

    delivery_id: int
    to_email: str
    to_name: str
    subject: str
    own_text: str  # the bodies of an email written for one person; empty with ``shared``
    own_html: str
    headers: dict[str, str] = field(default_factory=dict)
    shared: SharedContent | None = None
    substitutions: dict[str, str] = field(default_factory=dict)
    from_name: str = ""  # From's display name ("Angela B. at Example Support"); empty: the mailer's default
    reply_to: str | None = None  # the address replies go to, shown with the sender's name

    @cached_property
    def text(self) -> str:
        return fill(self.shared.text, self.substitutions) if self.shared else self.own_text

    @cached_property
    def html(self) -> str:
        return fill(self.shared.html, self.substitutions) if self.shared else self.own_html


def fill(template: str, values: dict[str, str]) -> str:
    """Replace every tag (a key of ``values``) in one pass, so a value that happens to contain a tag stays as written."""
    return _tags(frozenset(values)).sub(lambda match: values[match.group(0)], template) if values else template


@lru_cache(maxsize=64)
def _tags(tags: frozenset[str]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(tag) for tag in sorted(tags, key=len, reverse=True)))


@dataclass(slots=True)  # one per recipient of a fan-out: not frozen, for the same reason as OutgoingEmail
class SendResult:
    delivery_id: int
    accepted: bool
    error: str | None = None
    retryable: bool = False
    retry_after: float | None = None  # seconds the provider asked us to wait (429 rate-limit headers)
    held: bool = False  # the provider refused our account, not this email: wait, without spending an attempt


def unsendable(email: OutgoingEmail) -> str | None:
    """Why ``email`` must not be sent (a header it would break, an address no provider takes), or None.

    Entrances refuse such values already (:mod:`broadcaster.domain.input_rules`); this is
    the last, cheap check before the wire, for rows stored before those rules existed.
    It never quotes the value.
    """
    if not _ADDRESS.match(email.to_email):
        return "invalid address: not one a mail provider accepts"
    if not _BREAKS_A_HEADER.search("".join((email.to_name, email.from_name, email.subject, *email.headers.values()))):
        return None  # one search for the usual case: a fan-out checks every recipient
    values = (("recipient's name", email.to_name), ("sender's name", email.from_name), ("subject", email.subject),
              *((f"header {name}", text) for name, text in email.headers.items()))
    what = next(what for what, value in values if _BREAKS_A_HEADER.search(value))
    return f"the {what} contains a control character or line break"
