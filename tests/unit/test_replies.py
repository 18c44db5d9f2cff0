"""Replies, pure: the signed Reply-To token, the still-fails classifier, and reading an Inbound Parse post."""

from dataclasses import replace
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses

import pytest

from broadcaster.domain import replies, unsubscribe
from broadcaster.domain.replies import InvalidReplyToken, ReplyMeaning, meaning, reply_address, tag_of
from broadcaster.mail.inbound_parse import UnreadablePost, new_text, read_post
from broadcaster.mail.mime import to_mime
from broadcaster.mail.sendgrid_api import request_body
from broadcaster.messages.compose import compose, compose_group
from tests.support.sendgrid_rules import request_errors
from tests.unit.test_compose import FACTS, SENDER

SECRET, OLD = "current-secret", "previous-secret"
BOUNDARY = "xYzZY"


def form(fields: dict[str, bytes | str], files: dict[str, bytes] | None = None) -> tuple[str, bytes]:
    """A multipart/form-data body as SendGrid posts it: fields without a charset of their own."""
    parts = []
    for name, value in fields.items():
        raw = value.encode() if isinstance(value, str) else value
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + raw + b"\r\n")
    for name, data in (files or {}).items():
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="shot.png"\r\n'
                     f'Content-Type: image/png\r\n\r\n'.encode() + data + b"\r\n")
    return f"multipart/form-data; boundary={BOUNDARY}", b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


# Tokens -----------------------------------------------------------------------


def test_a_reply_token_names_its_delivery_and_survives_rotation_and_a_change_of_case() -> None:
    token = replies.sign(4711, OLD)
    assert replies.verify(token, (SECRET, OLD)) == 4711
    assert replies.verify(token.upper(), (SECRET, OLD)) == 4711  # some mail systems change an address's case
    with pytest.raises(InvalidReplyToken):
        replies.verify(token, (SECRET,))


@pytest.mark.parametrize("forged", [
    "4712." + replies.sign(4711, SECRET).split(".")[1],  # another delivery, the same MAC
    replies.sign(4711, SECRET)[:-1] + "a",
    "04711." + replies.sign(4711, SECRET).split(".")[1],  # another spelling of the id
    "4711", "", "x.y", "4711.é" * 3,
])
def test_a_changed_or_malformed_reply_token_does_not_verify(forged: str) -> None:
    with pytest.raises(InvalidReplyToken):
        replies.verify(forged, (SECRET,))


def test_an_unsubscribe_token_signed_with_the_same_secret_is_no_reply_token() -> None:
    mac = unsubscribe.sign(4711, unsubscribe.Scope.INCIDENT, SECRET).split(".")[-1]
    with pytest.raises(InvalidReplyToken):
        replies.verify(f"4711.{mac.lower()}", (SECRET,))


def test_the_reply_address_is_plus_addressing_on_the_support_mailbox_within_the_local_part_limit() -> None:
    token = replies.sign(10**18, SECRET)  # the longest delivery id
    address = reply_address("support@example.com", token)
    assert address == f"support+{token}@example.com" and len(address.split("@")[0]) <= 64
    assert tag_of(address.upper(), "support@example.com") == token.upper()
    assert tag_of("support@example.com", "support@example.com") is None
    assert tag_of(f"sales+{token}@example.com", "support@example.com") is None
    assert tag_of(f"support+{token}@elsewhere.com", "support@example.com") is None


# What a reply says ---------------------------------------------------------------


@pytest.mark.parametrize(("text", "said"), [
    ("It still fails.", ReplyMeaning.STILL_FAILS),
    ("Still broken for me", ReplyMeaning.STILL_FAILS),
    ("Sorry, this is not fixed", ReplyMeaning.STILL_FAILS),
    ("Same error as before: unexpected error", ReplyMeaning.STILL_FAILS),
    ("It's happening again since this morning", ReplyMeaning.STILL_FAILS),
    ("Thanks, but the upload still doesn't work", ReplyMeaning.STILL_FAILS),
    ("I still get the error", ReplyMeaning.STILL_FAILS),
    ("thanks, works now", ReplyMeaning.WORKS),
    ("Works again. Thank you Angela!", ReplyMeaning.WORKS),
    ("It no longer fails, thanks", ReplyMeaning.WORKS),
    ("Not broken anymore :)", ReplyMeaning.WORKS),
    ("It still works fine", ReplyMeaning.WORKS),
    ("What time zone is this in?", ReplyMeaning.OTHER),
])
def test_the_classifier_reads_the_usual_ways_of_saying_it(text: str, said: ReplyMeaning) -> None:
    assert meaning(text) is said


def test_the_classifier_errs_towards_still_fails_and_does_not_understand_conditionals() -> None:
    """Documented limits: a mixed reply counts as a failure; so does a conditional (a person reads both)."""
    assert meaning("Thanks, the upload works now, but the same error happens on export") is ReplyMeaning.STILL_FAILS
    assert meaning("If it is not fixed by Monday we will cancel") is ReplyMeaning.STILL_FAILS


# The new text of a reply -----------------------------------------------------------


def test_the_new_text_is_what_stands_above_the_quoted_history_and_the_signature() -> None:
    wrapped = ("Still broken, same error.\n\n-- \nEric Olsen\nOregon AMA\n\n"
               "On Tue, 24 Nov 2026 at 16:15, Example Support <support+1.abc@example.com>\nwrote:\n"
               "> Good news: it is fixed.\n")
    assert new_text(wrapped) == "Still broken, same error."
    outlook = ("Works now, thanks!\n\nSent from my iPhone\n\n________________________________\n"
               "From: Example Support\nSent: Tuesday\nTo: Eric\nSubject: fixed\n\nGood news")
    assert new_text(outlook) == "Works now, thanks!"
    inline = "On Tue, Example Support wrote:\n> It is fixed.\nNot for me: it still fails.\n> Thanks\n"
    assert new_text(inline) == "Not for me: it still fails."
    assert new_text("Le mar. 24 nov. 2026, Support a écrit :\n> Corrigé") == ""
    assert new_text("Just this.\r\n".replace("\r\n", "\n")) == "Just this."


# Reading a post -------------------------------------------------------------------------


def test_a_parsed_post_is_decoded_by_its_charsets_and_its_sender_read_with_encoded_words() -> None:
    content_type, body = form({
        "from": "=?utf-8?q?Ren=C3=A9e_M=C3=BCller?= <Renee@Example.com>",
        "to": "Support <support@example.com>",
        "subject": "CSV-Upload schl\xe4gt fehl".encode("iso-8859-1"),
        "text": "Der Upload schl\xe4gt fehl.\r\n\r\n> alt\r\n".encode("iso-8859-1"),
        "html": "<p>ignored when there is text</p>",
        "headers": "Message-ID: <abc@mail.example.com>\nFrom: x\n",
        "envelope": '{"to":["support@example.com"],"from":"renee@example.com"}',
        "charsets": '{"to":"UTF-8","subject":"iso-8859-1","from":"UTF-8","text":"iso-8859-1","html":"UTF-8"}',
        "SPF": "pass", "dkim": "{@example.com : pass}", "sender_ip": "192.0.2.1",
    }, files={"attachment1": b"\x89PNG\r\n"})
    email = read_post(content_type, body)
    assert (email.sender_email, email.sender_name) == ("Renee@Example.com", "Renée Müller")
    assert email.subject == "CSV-Upload schlägt fehl" and email.new_text == "Der Upload schlägt fehl."
    assert email.recipients == ("support@example.com", "support@example.com")
    assert email.message_id == "abc@mail.example.com" and not email.automatic


def test_an_html_only_post_and_a_raw_mime_post_give_their_text() -> None:
    content_type, body = form({"from": "ann@example.com", "html": "<div>Export is <b>broken</b></div>",
                               "charsets": "{}"})
    assert read_post(content_type, body).text == "Export is broken"
    raw = (b"From: =?iso-8859-1?q?Andr=E9?= <andre@example.com>\r\nTo: support+7.abc@example.com\r\n"
           b"Subject: Re: fixed\r\nMessage-ID: <m1@x>\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n"
           b"Toujours cass\xe9.\r\n")
    content_type, body = form({"email": raw, "envelope": '{"to":["support+7.abc@example.com"]}'})
    email = read_post(content_type, body)
    assert (email.sender_name, email.text.strip(), email.message_id) == ("André", "Toujours cassé.", "m1@x")
    assert "support+7.abc@example.com" in email.recipients


@pytest.mark.parametrize("headers", ["Auto-Submitted: auto-replied\n", "Precedence: bulk\n",
                                     "List-Id: <news.example.com>\n", "X-Autoreply: yes\n"])
def test_mail_no_person_wrote_is_recognised(headers: str) -> None:
    content_type, body = form({"from": "ann@example.com", "text": "I am out of office", "headers": headers})
    assert read_post(content_type, body).automatic
    content_type, body = form({"from": "MAILER-DAEMON@example.com", "text": "Undelivered"})
    assert read_post(content_type, body).automatic


@pytest.mark.parametrize(("content_type", "body", "field"), [
    ("application/json", b"{}", "Content-Type"),
    (f"multipart/form-data; boundary={BOUNDARY}", b"garbage", "(body)"),
    (*form({"from": "nobody", "text": "hi"}), "from"),
    (*form({"from": "a@example.com", "text": "hi", "charsets": "not json"}), "charsets"),
    (*form({"from": "a@example.com", "text": "hi", "envelope": "[1"}), "envelope"),
])
def test_a_post_that_is_not_an_email_is_refused_naming_the_field(content_type: str, body: bytes, field: str) -> None:
    with pytest.raises(UnreadablePost) as refused:
        read_post(content_type, body)
    assert refused.value.field == field


def test_an_unknown_charset_and_stray_control_characters_do_not_stop_a_report() -> None:
    content_type, body = form({"from": "a@example.com", "text": b"caf\xe9\x00 fails", "charsets": '{"text":"x-nope"}'})
    assert read_post(content_type, body).text == "caf\ufffd fails"


# Every email carries its Reply-To ---------------------------------------------------------


def test_utf7_that_decodes_to_half_a_surrogate_pair_gives_replacement_characters_not_a_500() -> None:
    """UTF-7 encodes each half of a pair on its own: "+2AA-" is a lone U+D800, which the database refused,
    so a reply in it was answered 500 and retried by SendGrid. The raw-MIME form has the same charset."""
    posted = read_post(*form({"from": "Ann <a@example.com>", "subject": "+2AA- re",
                              "text": "+2AA- still fails", "charsets": '{"text":"utf-7","subject":"utf-7"}'}))
    raw = read_post(*form({"email": b"From: a@example.com\r\nSubject: hi\r\n"
                                    b"Content-Type: text/plain; charset=utf-7\r\n\r\n+2AA- still fails\r\n"}))
    for email in (posted, raw):
        (email.text + email.subject + email.sender_name).encode("utf-8")  # raises on a lone surrogate
        assert "still fails" in email.text and "\ufffd" in email.text


def test_every_email_has_its_own_signed_reply_to_in_the_eml_and_in_the_sendgrid_request() -> None:
    emails = compose_group([replace(FACTS, delivery_id=n, to_email=f"user{n}@example.com") for n in (1, 2)], SENDER)
    message = BytesParser(policy=policy.default).parsebytes(to_mime(emails[0], "support@example.com", "Example Support"))
    [(name, address)] = getaddresses([str(message["Reply-To"])])
    assert name == "Example Support" and address == f"support+{SENDER.reply_token(1)}@example.com"
    assert str(message["From"]) == "Example Support <support@example.com>"  # the sender's name as it was
    body = request_body(emails, "support@example.com", "Example Support")
    assert body["reply_to"] == {"email": "support+-bc_reply-@example.com", "name": "Example Support"}
    assert [p["substitutions"]["-bc_reply-"] for p in body["personalizations"]] == [SENDER.reply_token(n) for n in (1, 2)]
    assert "Reply-To" not in body["headers"] and request_errors(body) == []  # a header SendGrid reserves


def test_the_reopened_email_says_it_was_not_fixed_sorry_what_now_and_when_next() -> None:
    from broadcaster.domain.notifications import NotificationKind

    email = compose(replace(FACTS, kind=NotificationKind.REOPENED, status="investigating",
                            update_message="We are rolling the fix back and testing a new one."), SENDER)
    assert "not fixed after all" in email.subject
    for part in (email.text, email.html):
        assert "was fixed. It is not, and I'm sorry" in part and "rolling the fix back" in part
        assert "write to you again by" in part and "reply to this email" in part
