"""Reading SendGrid's Inbound Parse posts: the multipart form SendGrid sends, as one email we can act on.

SendGrid receives the mail of the support domain and POSTs each message as
multipart/form-data: ``from``, ``to``, ``cc``, ``subject``, ``text``, ``html``, ``headers``
(the raw header block), ``envelope`` (JSON: the SMTP ``to`` list and ``from``),
``charsets`` (JSON: the character set of each field), ``SPF``, ``dkim``, ``sender_ip``,
``spam_score``/``spam_report`` (with spam checks on), ``attachments``/``attachment-info``
and the attachments as files. With "POST the raw, full MIME message" on, the message
comes whole in ``email`` instead of ``text``, ``html`` and ``headers``; both are read.

Form parts carry no character set of their own: each field's bytes are in the set
``charsets`` names, so fields are read as bytes (the email package parses the form) and
decoded here; an unknown set falls back to UTF-8, and undecodable bytes are replaced.
Attachments are not read. What a person wrote is the text part (the HTML part, as text,
only when there is none), without the quoted history and signature below it.
"""

import codecs
import hashlib
import json
import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage, Message, MIMEPart
from email.parser import BytesParser, HeaderParser
from email.utils import collapse_rfc2231_value, getaddresses
from typing import Any

from broadcaster.domain.plain_text import html_text
from broadcaster.domain.undecoded import without_lone_surrogates

AUTOMATIC_SENDERS = frozenset({"mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply"})
AUTOMATIC_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
AUTOMATIC_MARKS = ("x-autoreply", "x-autorespond", "list-id", "list-unsubscribe")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_QUOTE_HEADS = re.compile(
    r"^(?:on\b.{0,300}\bwrote:|am\b.{0,300}\bschrieb\b.*:|le\b.{0,300}\ba écrit\s*:|el\b.{0,300}\bescribió:"
    r"|-{2,}\s*(?:original message|forwarded message|ursprüngliche nachricht)\s*-{2,}|_{10,})\s*$",
    re.IGNORECASE)
_OUTLOOK_HEAD = re.compile(r"^(?:from|von|de):\s.+", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^(?:sent|date|to|subject|gesendet|envoyé|an|à):\s", re.IGNORECASE)
_SIGNATURE = re.compile(r"^(?:--|-- |sent from my .*|get outlook for .*|envoyé de mon .*|von meinem .* gesendet)$",
                        re.IGNORECASE)


class UnreadablePost(ValueError):
    """The post is not an Inbound Parse form we can read: ``field`` names the form field, never its value."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class InboundEmail:
    sender_email: str
    sender_name: str  # decoded (RFC 2047 encoded words too); may be empty
    recipients: tuple[str, ...]  # the SMTP envelope's first, then To and Cc
    subject: str
    text: str  # the whole body as text
    message_id: str | None
    automatic: bool  # an auto-reply, a bounce, a list or newsletter: never answered

    @property
    def fingerprint(self) -> str:
        """One email, however often SendGrid posts it: its Message-ID, else what it says."""
        identity = self.message_id or "\x00".join((self.sender_email, self.subject, self.text))
        return hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()

    @property
    def new_text(self) -> str:
        return new_text(self.text)


def read_post(content_type: str, body: bytes) -> InboundEmail:
    """The email an Inbound Parse post carries; UnreadablePost when it is not one."""
    fields = form_fields(content_type, body)
    try:
        return _raw_email(fields["email"]) if "email" in fields else _parsed_email(fields)
    except UnreadablePost:
        raise
    except Exception:  # noqa: BLE001 - the email package on hostile input: a 4xx naming the post, never a 500
        raise UnreadablePost("(body)", "is not an email we can read") from None


def form_fields(content_type: str, body: bytes) -> dict[str, bytes]:
    """Each form field's bytes, by name (the first of a repeated name); files (attachments) left out."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise UnreadablePost("Content-Type", "must be multipart/form-data, as SendGrid posts it")
    try:
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
        form = BytesParser(policy=policy.compat32).parsebytes(head + body)
        parts = form.get_payload() if form.is_multipart() else None
        if not isinstance(parts, list) or not parts:
            raise UnreadablePost("(body)", "holds no form fields")
        fields: dict[str, bytes] = {}
        for part in parts:
            if not isinstance(part, Message):
                continue
            name = _field_name(part)
            if name and not part.get_filename():
                payload = part.get_payload(decode=True)
                fields.setdefault(name, payload if isinstance(payload, bytes) else b"")
        return fields
    except UnreadablePost:
        raise
    except Exception:  # noqa: BLE001 - as above
        raise UnreadablePost("(body)", "is not a multipart form we can read") from None


def _field_name(part: Message) -> str | None:
    name = part.get_param("name", header="content-disposition")
    return collapse_rfc2231_value(name) if name else None


def _decoded(raw: bytes, charset: str | None) -> str:
    try:
        codec = codecs.lookup(charset or "utf-8").name
    except LookupError:
        codec = "utf-8"
    return raw.decode(codec, errors="replace")


def _charsets(fields: dict[str, bytes]) -> dict[str, str]:
    try:
        declared = json.loads(fields.get("charsets", b"{}"))
    except ValueError:
        raise UnreadablePost("charsets", "is not JSON") from None
    if not isinstance(declared, dict):
        raise UnreadablePost("charsets", "must be a JSON object")
    return {str(k): v for k, v in declared.items() if isinstance(v, str)}


def _parsed_email(fields: dict[str, bytes]) -> InboundEmail:
    charsets = _charsets(fields)

    def field(name: str) -> str:
        return _decoded(fields.get(name, b""), charsets.get(name))

    headers = HeaderParser(policy=policy.compat32).parsestr(field("headers"))
    text = field("text") if fields.get("text", b"").strip() else html_text(field("html"))
    envelope_to = _envelope_recipients(fields.get("envelope"))
    return _email(field("from"), envelope_to, (field("to"), field("cc")), field("subject"), text, headers)


def _raw_email(raw: bytes) -> InboundEmail:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain", "html"))
    text = ""
    if body is not None:
        content = _content(body)
        text = content if body.get_content_type() == "text/plain" else html_text(content)
    raw_headers = {name.lower(): str(value) for name, value in reversed(list(message.raw_items()))}  # the first wins
    return _email(raw_headers.get("from", ""), (), (raw_headers.get("to", ""), raw_headers.get("cc", "")),
                  raw_headers.get("subject", ""), text, message)


def _content(part: MIMEPart) -> str:
    try:
        return str(part.get_content())
    except LookupError:  # a charset Python does not know
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""


def _envelope_recipients(raw: bytes | None) -> tuple[str, ...]:
    if not raw:
        return ()
    try:
        envelope = json.loads(raw)
    except ValueError:
        raise UnreadablePost("envelope", "is not JSON") from None
    recipients = envelope.get("to") if isinstance(envelope, dict) else None
    if not isinstance(recipients, list):
        return ()
    return tuple(r for r in recipients if isinstance(r, str))


def _email(from_header: str, envelope_to: tuple[str, ...], to_headers: tuple[str, ...], subject: str, text: str,
           headers: Any) -> InboundEmail:
    sender_email, sender_name = sender(from_header)
    listed = tuple(address for _, address in getaddresses([_one_line(h) for h in to_headers if h]) if address)
    message_id = str(headers.get("Message-ID") or "").strip().strip("<>").strip() or None
    return InboundEmail(
        sender_email=sender_email, sender_name=_one_line(sender_name), recipients=envelope_to + listed,
        subject=_one_line(_header_text(subject)), text=_clean(text), message_id=message_id,
        automatic=automatic(sender_email, headers))


def sender(from_header: str) -> tuple[str, str]:
    """(address, display name) of a From header, RFC 5322 and RFC 2047 (encoded words) read by the email package."""
    header = policy.default.header_factory("from", _one_line(from_header))
    addresses = getattr(header, "addresses", ())
    if not addresses or "@" not in addresses[0].addr_spec:
        raise UnreadablePost("from", "names no sender address")
    return addresses[0].addr_spec, addresses[0].display_name


def _header_text(value: str) -> str:
    """A header value with any encoded words decoded (SendGrid may pass them on as they came)."""
    return str(policy.default.header_factory("subject", _one_line(value)))


def automatic(sender_email: str, headers: Any) -> bool:
    """Mail no person wrote (RFC 3834 auto-replies, bounces, lists): answering it could start a mail loop."""
    auto_submitted = str(headers.get("Auto-Submitted") or "no").strip().lower()
    precedence = str(headers.get("Precedence") or "").strip().lower()
    local = sender_email.rpartition("@")[0].lower()
    return (auto_submitted != "no" or precedence in AUTOMATIC_PRECEDENCE or local in AUTOMATIC_SENDERS
            or any(headers.get(mark) is not None for mark in AUTOMATIC_MARKS))


def _one_line(value: str) -> str:
    value = without_lone_surrogates(_CONTROL.sub(" ", value))  # UTF-7 can decode to one
    return " ".join(value.replace("\u2028", " ").replace("\u2029", " ").split())


def _clean(text: str) -> str:
    """Line breaks as ``\\n``, no control characters but tabs (an email's stray NUL carries nothing)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    return without_lone_surrogates(_CONTROL.sub("", text))


def new_text(text: str) -> str:
    """What a reply adds: the text above the quoted history and the signature, quoted lines (``>``) left out.

    Recognised: "On ... wrote:" (and its German, French and Spanish forms, also when a
    client wraps it over two lines), "-----Original Message-----", Outlook's underscore
    rule and From:/Sent: block, ``-- `` signatures, "Sent from my ...". When nothing
    stands above the quoted history (an answer written between the quoted lines), the
    lines that are not quoted are the answer.
    """
    lines = text.split("\n")
    cut = _history_start(lines)
    above = _without_quotes(lines[:cut])
    if above.strip() or cut == len(lines):
        return _tidy(_without_signature(above))
    return _tidy(_without_signature(_without_quotes(lines[cut + 1:])))


def _history_start(lines: list[str]) -> int:
    for number, line in enumerate(lines):
        stripped = line.strip()
        joined = f"{stripped} {lines[number + 1].strip()}" if number + 1 < len(lines) else stripped
        if _QUOTE_HEADS.match(stripped) or (stripped.lower().startswith("on ") and _QUOTE_HEADS.match(joined)):
            return number
        if _OUTLOOK_HEAD.match(stripped) and any(_OUTLOOK_NEXT.match(n.strip()) for n in lines[number + 1:number + 4]):
            return number
    return len(lines)


def _without_quotes(lines: list[str]) -> str:
    return "\n".join(line for line in lines if not line.lstrip().startswith(">"))


def _without_signature(text: str) -> str:
    lines = text.split("\n")
    end = next((n for n, line in enumerate(lines) if _SIGNATURE.match(line.strip()) or line == "-- "), len(lines))
    return "\n".join(lines[:end])


def _tidy(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in text.split("\n"))).strip()
