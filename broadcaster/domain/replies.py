"""Replies to our emails: the signed Reply-To address each one carries, and what a reply says.

Every email to a subscriber has ``Reply-To: <support-local>+<token>@<support-domain>``
(plus-addressing: the support mailbox receives it whatever the tag). The token is
``<delivery id>.<mac>``: the ledger row of the email (one subscriber of one incident),
and a truncated HMAC over a domain-separated message holding it, so the row cannot be
changed and neither an unsubscribe token nor anything else signed with the same secret
is a valid reply token. The MAC is lower-case base32, because mail systems may change
the case of an address on the way back and base64 would not survive it; 15 bytes keep
the whole local part within the 64 characters RFC 5321 allows.

A token that does not verify is never trusted: the email is a new report.
"""

import base64
import re
from enum import StrEnum

from broadcaster.domain.signing import signature, signed_by_one_of

MAC_BYTES = 15  # 24 base32 characters, no padding
_DOMAIN = b"broadcaster reply v1\x00"
_TOKEN = re.compile(r"([1-9][0-9]{0,18})\.([a-z2-7]{24})")


class InvalidReplyToken(ValueError):
    pass


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().lower()


def _message(delivery_id: int) -> bytes:
    return _DOMAIN + str(delivery_id).encode()


def sign(delivery_id: int, secret: str) -> str:
    return f"{delivery_id}.{signature(_message(delivery_id), secret, size=MAC_BYTES, encode=_b32)}"


def verify(token: str, secrets: tuple[str, ...]) -> int:
    """The delivery id a token names, if one of ``secrets`` signed it; InvalidReplyToken otherwise."""
    found = _TOKEN.fullmatch(token.lower())
    if found is None:
        raise InvalidReplyToken("malformed reply token")
    delivery_id = int(found.group(1))
    if not signed_by_one_of(_message(delivery_id), found.group(2), secrets, size=MAC_BYTES, encode=_b32):
        raise InvalidReplyToken("reply token does not match")
    return delivery_id


def reply_address(support_email: str, token: str) -> str:
    """``support+<token>@example.com`` for the support address ``support@example.com``."""
    local, _, domain = support_email.rpartition("@")
    return f"{local}+{token}@{domain}"


def tag_of(address: str, support_email: str) -> str | None:
    """The plus-address tag of ``address`` if it is the support mailbox's (compared without case), else None."""
    local, _, domain = address.rpartition("@")
    support_local, _, support_domain = support_email.rpartition("@")
    base, plus, tag = local.partition("+")
    if not plus or base.lower() != support_local.lower() or domain.lower() != support_domain.lower():
        return None
    return tag


class ReplyMeaning(StrEnum):
    STILL_FAILS = "still_fails"
    WORKS = "works"
    OTHER = "other"


# Phrases people use to say a fix did not work, and to say it did. Matched on lower-case
# text with apostrophes straightened and whitespace collapsed. What says "it works" in a
# negated form ("no longer fails", "not broken anymore") is removed before looking for
# failures, so it is not read as one.
_RECOVERED = re.compile(
    r"\b(?:no longer|not|isn't|is not|aren't|wasn't) (?:fail\w*|broken|crash\w*|happening|see(?:ing)? (?:it|the error))"
    r"(?: any ?more)?\b|\b(?:fails|failing|broken|happening|crashing) no more\b")
_STILL_FAILS = re.compile(
    r"\bstill (?:fail\w*|broken|crash\w*|not (?:work\w*|fixed|resolved)|(?:does|do|did)n't work|"
    r"(?:does|do|did) not work|(?:is|isn't|is not) (?:broken|failing|crashing)|(?:isn't|is not) (?:working|fixed)|"
    r"happen\w*|getting|get|seeing|see|have|has|the same|an? (?:error|problem|issue)|errors?|won't|can't|cannot|"
    r"unable)\b"
    r"|\b(?:not|isn't|wasn't|hasn't been|haven't been|has not been|is not|was not) (?:fixed|resolved|solved)\b"
    r"|\bsame (?:error|problem|issue|message|thing|bug)\b"
    r"|\b(?:happening|happens|failing|fails|failed|broken|broke|back|crashing|occurring) again\b"
    r"|\bagain (?:fail\w*|broken|the same)\b"
    r"|\b(?:does|do|did)(?:n't| not) work\b|\bnot working\b|\bisn't working\b|\bis not working\b"
    r"|\b(?:it's|it is|the (?:problem|error|issue|bug) is) back\b|\bcame back\b")
_WORKS = re.compile(
    r"\b(?:works?|working|fixed|resolved|solved|good|fine|ok|okay) (?:now|again)\b"
    r"|\b(?:it|that|everything|all) (?:works|worked|is working|is fixed|is fine|is good)\b"
    r"|\b(?:still )?(?:works|working) (?:fine|perfectly|great|well)\b|\bstill works\b"
    r"|\bno longer\b|\bany ?more\b|\bproblem solved\b|\bthanks?\b|\bthank you\b|\bmany thanks\b|\bcheers\b")


def meaning(text: str) -> ReplyMeaning:
    """What a reply to an incident's email says about it: that it still fails, that it works, or neither.

    A small phrase list, in English only. It errs towards "still fails": a false alarm
    costs an engineer a look, a missed regression costs every subscriber a broken fix.
    It does not understand conditionals ("if it is not fixed by Monday..."), questions
    ("is it still broken for others?"), sarcasm or other languages; such replies are
    stored all the same, and `broadcaster incident show` lists them for a person to read.
    """
    flat = " ".join(text.lower().replace("\u2019", "'").split())
    if _STILL_FAILS.search(_RECOVERED.sub(" ", flat)):
        return ReplyMeaning.STILL_FAILS
    return ReplyMeaning.WORKS if _WORKS.search(flat) else ReplyMeaning.OTHER
