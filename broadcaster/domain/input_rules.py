"""The input rules every entrance applies: the CLI, the topics, and any entrance added later.

One place decides what a person's name, an address, a text or a date may be, so that
what one entrance refuses no other lets through. Each check returns the cleaned value
or raises :class:`InvalidInput` naming the field, without quoting the value: a
refusal ends up in logs and dead letters, which must not carry personal data.

Why these rules:
- Addresses are checked by ``email-validator`` with SendGrid's limits (ASCII local part,
  no quoted or IP-literal forms, 254 characters), so what we accept SendGrid accepts
  and a comma, a space or a line break can never smuggle in a second recipient.
- Names, titles and other one-line fields reach mail headers (To, Subject): no control
  character, line or paragraph separator is allowed in them. Multi-line texts keep
  line breaks and tabs and lose nothing else. Lone surrogates (valid in JSON, not in
  UTF-8) and NUL (refused by PostgreSQL) are refused everywhere.
- Dates must fall between 2000 and a day from now: a report "received" in 9999 would be
  quoted back to its reporter.
"""

import re
import unicodedata
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache

import email_validator
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import DOT_ATOM_TEXT, EMAIL_MAX_LENGTH
from email_validator.syntax import validate_email_domain_name

MAX_MESSAGE_BYTES = 256 * 1024
"""Any message on any topic; checked before it is parsed."""

MAX_EMAIL = 254
MAX_NAME = 200
MAX_TITLE = 200
MAX_LABEL = 100  # components, sources, match phrases
MAX_TEXT = 20_000  # a report's text
MAX_MESSAGE = 10_000  # an update, a description, a workaround, how to verify
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)

_MULTILINE_ALLOWED = frozenset("\n\r\t")
_LINE_BREAKING = frozenset({"Zl", "Zp"})
# Every character _forbidden refuses, as one class: the categories Cc (U+0000-001F, U+007F-009F),
# Cs (U+D800-DFFF), Zl (U+2028) and Zp (U+2029) are fixed sets. One scan in C instead of a
# Python call per character: a 20,000-character report was 5 ms of checking.
# The bidirectional embeddings, overrides and isolates (U+202A-202E, U+2066-2069) are refused too:
# "Eve\u202egnp.exe" shows as "Eveexe.png" in a greeting, a page or a terminal.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SUSPECT = {
    False: re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e\u2066-\u2069]"),
    True: re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]"),
}
# A character that shows: not a space, nor a zero-width space or joiner, nor the byte-order mark. A value
# without one is as empty as a blank one. A search stops at the first (a sub rewrote a 20,000-character text).
_SHOWS = re.compile("[^\\s\u200b-\u200f\u2060-\u2064\ufeff]")


class InvalidInput(ValueError):
    """``field``: ``problem``; the value itself is never quoted."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def _forbidden(character: str, multiline: bool) -> str | None:
    if character in _BIDI_CONTROLS:
        return f"contains the bidirectional control U+{ord(character):04X}, which makes text read otherwise than it is"
    category = unicodedata.category(character)
    if category == "Cs":
        return "contains an unpaired surrogate (not valid UTF-8)"
    if category == "Cc" and not (multiline and character in _MULTILINE_ALLOWED):
        return f"contains the control character U+{ord(character):04X}"
    if category in _LINE_BREAKING and not multiline:
        return f"contains a line separator (U+{ord(character):04X})"
    return None


def text(value: object, field: str, *, max_length: int, multiline: bool = False, required: bool = True) -> str:
    """A string without forbidden characters, at most ``max_length`` long; not blank when ``required``."""
    if not isinstance(value, str):
        raise InvalidInput(field, f"must be text, not {type(value).__name__}")
    if len(value) > max_length:
        raise InvalidInput(field, f"is {len(value):,} characters long; the limit is {max_length:,}")
    suspect = _SUSPECT[multiline].search(value)
    if suspect and (problem := _forbidden(suspect.group(), multiline)):
        raise InvalidInput(field, problem)
    if required and not (value.strip() if value.isascii() else _SHOWS.search(value)):
        raise InvalidInput(field, "is empty")
    return value


def line(value: object, field: str, *, max_length: int, required: bool = True) -> str:
    """One line of text (it may end up in a mail header), stripped of surrounding spaces."""
    return text(value, field, max_length=max_length, required=required).strip()


def optional_line(value: object, field: str, *, max_length: int = MAX_LABEL) -> str | None:
    if value is None:
        return None
    cleaned = line(value, field, max_length=max_length, required=False)
    return cleaned or None


def name(value: object, field: str = "name") -> str:
    return line(value, field, max_length=MAX_NAME)


def email(value: object, field: str = "email") -> str:
    """The address, normalised (lower case, ASCII domain), if SendGrid would accept it."""
    raw = line(value, field, max_length=MAX_EMAIL)
    return _plain_email(raw) or _email_fully_checked(raw, field)


# The domain part of an address is most of the cost of checking it (IDNA, Unicode tables),
# and an import of a million people has a handful of domains: what email-validator made of
# each domain it accepted, by the domain as written and the module's two settings the check
# reads. Bounded: a file of all-different domains only clears it now and then.
_DOMAINS: dict[tuple[str, bool, bool], tuple[str, str]] = {}
_DOMAINS_KEPT = 10_000


def _plain_email(raw: str) -> str | None:
    """What :func:`_email_fully_checked` returns for ``raw``, or None when only the full check may say.

    Only the common shape takes this path: ASCII, one @-sign, a dot-atom local part (no
    quotes, no display name, nothing Unicode could combine with) and a domain that is not
    an IP literal. For it, email-validator's ``validate_email`` (2.x, syntax.py) splits at
    the @-sign, accepts the local part as it is by DOT_ATOM_TEXT, checks the domain by
    ``validate_email_domain_name`` (cached here; a refused domain is not cached, the full
    check says why), then the three lengths. Anything else, and anything refused, goes to
    the full check, so every refusal and its message is the library's own;
    tests/unit/test_affected_import.py compares both paths over tricky addresses.
    """
    local, at, domain = raw.partition("@")
    if not (at and domain and raw.isascii() and DOT_ATOM_TEXT.match(local) and not domain.startswith("[")) \
            or email_validator.STRICT:  # the module's strict mode also limits the local part's length
        return None
    key = (domain, email_validator.TEST_ENVIRONMENT, email_validator.GLOBALLY_DELIVERABLE)
    known = _DOMAINS.get(key)
    if known is None:
        try:
            checked = validate_email_domain_name(domain, test_environment=key[1], globally_deliverable=key[2])
        except EmailNotValidError:
            return None
        if len(_DOMAINS) >= _DOMAINS_KEPT:
            _DOMAINS.clear()
        known = _DOMAINS[key] = (checked["ascii_domain"], checked["domain"])
    ascii_domain, unicode_domain = known
    if max(len(raw), len(local) + 1 + len(unicode_domain.encode()), len(local) + 1 + len(ascii_domain)) > EMAIL_MAX_LENGTH:
        return None
    return f"{local}@{ascii_domain}".lower()


def _email_fully_checked(raw: str, field: str) -> str:
    """The address as email-validator checks and normalises it, or InvalidInput with its explanation."""
    try:
        checked = validate_email(raw, check_deliverability=False, allow_smtputf8=False,
                                 allow_quoted_local=False, allow_domain_literal=False)
    except EmailNotValidError as error:
        raise InvalidInput(field, f"is not a deliverable email address ({_without_value(str(error), raw)})") from None
    return (checked.ascii_email or checked.normalized).lower()


def _without_value(explanation: str, value: str) -> str:
    return explanation.replace(value, "the address")


def moment(value: datetime, field: str, *, future: timedelta = FUTURE_SLACK, now: datetime | None = None) -> datetime:
    """A time between 2000 and ``future`` from ``now`` (the wall clock by default)."""
    if not EARLIEST <= value <= (now or datetime.now(UTC)) + future:
        raise InvalidInput(field, f"must fall between {EARLIEST:%Y-%m-%d} and {future.days or 1} day(s) from now")
    return value


MAX_TIME_ZONE = 64
MAX_LOCALE = 35  # BCP 47's longest tag in common use; CLDR's are far shorter


@cache
def _time_zones() -> frozenset[str]:
    from zoneinfo import available_timezones

    return frozenset(available_timezones())


def time_zone(value: object, field: str = "time_zone") -> str | None:
    """An IANA time zone name (``Asia/Manila``), or None when absent; a name the database lacks is refused."""
    if value is None:
        return None
    name = line(value, field, max_length=MAX_TIME_ZONE)
    if name not in _time_zones():
        raise InvalidInput(field, "is not an IANA time zone name, e.g. Europe/Paris or Asia/Manila")
    return name


def locale(value: object, field: str = "locale") -> str | None:
    """A locale Babel (CLDR) knows, as ``en_US`` (``en-US`` accepted), or None when absent."""
    if value is None:
        return None
    known = _locale_name(line(value, field, max_length=MAX_LOCALE))
    if known is None:
        raise InvalidInput(field, "is not a locale we know, e.g. en_US, en-GB or pt_BR")
    return known


@lru_cache(maxsize=1024)
def _locale_name(tag: str) -> str | None:
    """Babel's name for ``tag``, or None if it knows none: the same tags come back a million times in an import."""
    from babel import Locale, UnknownLocaleError

    try:
        return str(Locale.parse(tag, sep="-" if "-" in tag else "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return None
