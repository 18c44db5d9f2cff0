"""Generated bad input thrown at the decode and compose paths (Hypothesis, bounded).

The properties: decoding either yields an event that obeys the input rules or refuses
with InvalidMessage (never another exception, which a worker would retry as a bug);
composing and writing an email either yields a message whose headers are exactly the
ones we set, to exactly one recipient, or a reason to refuse that one email.
"""

import json
import string
from dataclasses import replace
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses
from functools import partial
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broadcaster.domain.email import OutgoingEmail, unsendable
from broadcaster.mail.outbox import OutboxMailer
from broadcaster.mail.sendgrid_api import encoded
from broadcaster.messages.compose import compose, compose_alike
from broadcaster.services import composing
from broadcaster.wire.codec import decode_bug_report
from broadcaster.wire.errors import InvalidMessage
from tests.unit.test_compose import FACTS, SENDER

# The same examples in every run: a CI failure is reproducible, and 300 of them still explore.
FUZZ = settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
NASTY = st.sampled_from(["\r\n", "\n", "\r", "\x00", "\u2028", "\ud800", ",", ";", "<", ">", '"', "Bcc: x@evil.com",
                         "=?utf-8?q?x?=", "\t", " ", "@", "..", "é", "😀"])
hostile_text = st.lists(st.one_of(NASTY, st.text(max_size=8)), max_size=8).map("".join)
anything = st.one_of(hostile_text, st.none(), st.integers(), st.floats(allow_nan=False), st.lists(st.integers(), max_size=2),
                     st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), st.booleans())
address = st.one_of(
    st.builds(lambda a, b: f"{a}@{b}.com", st.text(string.ascii_letters + ".+-_", min_size=1, max_size=10),
              st.text(string.ascii_lowercase + "-", min_size=1, max_size=8)),
    hostile_text, anything)


@st.composite
def report_documents(draw: st.DrawFn) -> dict:
    document = {
        "type": "bug_report.received", "version": 1, "report_id": draw(st.one_of(st.just("r-1"), hostile_text, anything)),
        "received_at": draw(st.one_of(st.just("2026-11-24T16:15:00Z"), hostile_text, anything,
                                      st.datetimes().map(lambda d: d.isoformat() + "Z"))),
        "reporter": draw(st.one_of(st.fixed_dictionaries({"email": address, "name": st.one_of(hostile_text, anything)}),
                                   anything)),
        "text": draw(st.one_of(hostile_text, anything)),
    }
    for optional in ("component", "source"):
        if draw(st.booleans()):
            document[optional] = draw(st.one_of(hostile_text, anything))
    return document


@FUZZ
@given(report_documents())
def test_decoding_a_generated_report_either_obeys_the_rules_or_is_refused(document: dict) -> None:
    try:
        raw = json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")
        report = decode_bug_report(raw)
    except InvalidMessage:
        return
    for one_line in (report.name, report.email, report.report_id, report.component or "", report.source):
        assert not any(ch in one_line for ch in "\r\n\x00\u2028\u2029"), one_line
    assert "," not in report.email and " " not in report.email and report.email.count("@") == 1
    assert report.name.strip() and report.text.strip()
    report.text.encode("utf-8")  # no lone surrogates reach the database or the mail


@FUZZ
@given(st.binary(max_size=300))
def test_decoding_random_bytes_never_raises_anything_but_invalid_message(raw: bytes) -> None:
    try:
        decode_bug_report(raw)
    except InvalidMessage:
        pass


EXPECTED_HEADERS = {"from", "to", "subject", "date", "message-id", "mime-version", "content-type",
                    "x-broadcaster-incident", "x-broadcaster-kind", "x-broadcaster-delivery",
                    "list-unsubscribe", "list-unsubscribe-post", "reply-to"}


@FUZZ
@given(name=hostile_text, to_email=address.filter(lambda a: isinstance(a, str)), title=hostile_text,
       report_text=hostile_text)
def test_a_composed_email_has_exactly_our_headers_and_one_recipient_or_is_refused_alone(
    name: str, to_email: str, title: str, report_text: str, tmp_path_factory
) -> None:
    """The deliver path: compose one row (as composing does a group that fails), then the outbox writes it or refuses it."""
    facts = replace(FACTS, to_name=name, to_email=to_email, incident_title=title or "x", report_text=report_text)
    composed = composing.Composed()
    composing.compose_together([facts], partial(compose_alike, sender=SENDER), composed)
    outbox = tmp_path_factory.mktemp("outbox")
    results = composed.refused + OutboxMailer(outbox, "support@example.com", "Support").send(composed.emails)
    [result] = results
    if not result.accepted:
        assert result.retryable is False and result.error
        # The reason never quotes the value (a name of a few letters can occur in any sentence by chance).
        assert len(name.strip()) < 8 or name not in result.error
        return
    [path] = outbox.glob("*.eml")
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    top_level = {key.lower() for key in message.keys()}
    assert top_level == EXPECTED_HEADERS, top_level ^ EXPECTED_HEADERS
    assert [address for _, address in getaddresses([str(message["To"])])] == [to_email]
    assert [address for _, address in getaddresses([str(message["Reply-To"])])] == [
        f"support+{SENDER.reply_token(facts.delivery_id)}@example.com"]
    assert not message.defects


def test_one_poison_email_in_a_batch_is_refused_alone(tmp_path: Path) -> None:
    good = [compose(replace(FACTS, delivery_id=n, to_email=f"user{n}@example.com"), SENDER) for n in range(1, 10)]
    poison = compose(replace(FACTS, delivery_id=99, to_name="Eve\r\n\r\n<h1>Injected</h1>"), SENDER)
    results = OutboxMailer(tmp_path, "support@example.com", "Support").send([*good[:4], poison, *good[4:]])
    assert [r.delivery_id for r in results if r.accepted] == list(range(1, 10))
    [refused] = [r for r in results if not r.accepted]
    assert refused.delivery_id == 99 and not refused.retryable and "line break" in (refused.error or "")
    assert len(list(tmp_path.glob("*.eml"))) == 9


_HEADER_BREAKERS = {*map(chr, range(0x20)), "\x7f", "\u2028", "\u2029"}


@given(name=st.text(max_size=30), subject=st.text(max_size=30), header=st.text(max_size=30))
def test_the_last_check_before_the_wire_names_the_first_field_that_would_break_a_header(
        name: str, subject: str, header: str) -> None:
    """One search over every field at once decides, and then the same field is named as one search each would."""
    email = OutgoingEmail(1, "ana@example.com", name, subject, "", "", {"X-Broadcaster-Kind": header}, from_name="Team")
    fields = (("recipient's name", name), ("subject", subject), ("header X-Broadcaster-Kind", header))
    broken = next((what for what, value in fields if _HEADER_BREAKERS & set(value)), None)
    assert unsendable(email) == (f"the {broken} contains a control character or line break" if broken else None)


@FUZZ
@given(st.dictionaries(hostile_text, st.one_of(hostile_text, st.lists(st.dictionaries(hostile_text, hostile_text),
                                                                      max_size=3)), max_size=5))
def test_the_mail_request_is_encoded_as_the_json_module_would_read_it_whatever_the_text(body) -> None:
    """orjson writes the request; a lone surrogate it will not write goes out as the json module writes it."""
    assert json.loads(encoded(body)) == json.loads(json.dumps(body))
