"""The input rules every entrance shares, and the bad inputs an attacker and a careless integrator sent."""

import json
import sys
from datetime import UTC, datetime, timedelta

import pytest

from broadcaster.domain import input_rules as rules
from broadcaster.domain.events import BugReportReceived, IncidentDeclared, IncidentUpdated
from broadcaster.domain.input_rules import InvalidInput
from broadcaster.wire.codec import decode_bug_report, decode_incident_event, encode_bug_report, encode_incident_event
from broadcaster.wire.errors import InvalidMessage

NOW = datetime.now(UTC).replace(microsecond=0)
REPORT = BugReportReceived("r-1", NOW, "eric@example.com", "Eric", "CSV upload fails", "groups", "form")


def _report(**changes: object) -> bytes:
    document = json.loads(encode_bug_report(REPORT))
    reporter = document["reporter"]
    for field in ("email", "name"):
        if field in changes:
            reporter[field] = changes.pop(field)
    document.update(changes)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("victim@example.com\r\nBcc: attacker@evil.com", "control character"),
        ("a@x.com,attacker@evil.com", "not a deliverable email address"),
        ("x@", "not a deliverable email address"),
        ("ann..lee@example.com", "not a deliverable email address"),
        ('"quoted"@example.com', "not a deliverable email address"),
        ("user@[127.0.0.1]", "not a deliverable email address"),
        ("a" * 250 + "@example.com", "limit"),
    ],
)
def test_addresses_that_sendgrid_would_refuse_or_that_smuggle_recipients_are_refused(address: str, why: str) -> None:
    with pytest.raises(InvalidMessage, match=f"reporter/email: .*{why}") as refused:
        decode_bug_report(_report(email=address))
    assert "attacker" not in str(refused.value) and "victim" not in str(refused.value)  # never quoted


def test_a_valid_address_is_normalised() -> None:
    assert decode_bug_report(_report(email="  Eric.Olsen@Example.COM ")).email == "eric.olsen@example.com"


@pytest.mark.parametrize(
    "name",
    ["Bob\nBcc : attacker@evil.com", "Eve\r\n\r\n<h1>Injected</h1>", "Nul\x00Byte", "Line\u2028Separator",
     "Lone \ud800 surrogate", "Bell\x07", "Eve\u202egnp.exe", "Isolated \u2066x\u2069"],
)
def test_names_with_control_characters_or_line_breaks_are_refused_naming_the_field(name: str) -> None:
    with pytest.raises(InvalidMessage, match="reporter/name: contains"):
        decode_bug_report(_report(name=name))


def test_report_text_keeps_line_breaks_and_tabs_but_not_other_control_characters() -> None:
    assert decode_bug_report(_report(text="line one\r\nline two\tend")).text == "line one\r\nline two\tend"
    with pytest.raises(InvalidMessage, match="text: contains the control character U\\+0000"):
        decode_bug_report(_report(text="a NUL \x00 breaks PostgreSQL"))


@pytest.mark.parametrize(
    ("received_at", "why"),
    [("9999-12-31T23:59:59Z", "must fall between"), ("1999-12-31T23:59:59Z", "must fall between"),
     ("0001-01-01T00:00:00+01:00", "out of range"),
     # a named id: pytest-xdist's processes must collect the same ids, and this value is the clock's
     pytest.param((NOW + timedelta(days=2)).isoformat(), "must fall between", id="two-days-ahead")],
)
def test_dates_outside_a_sane_range_are_refused(received_at: str, why: str) -> None:
    with pytest.raises(InvalidMessage, match=f"received_at: .*{why}"):
        decode_bug_report(_report(received_at=received_at))


def test_a_message_over_the_size_limit_is_refused_before_it_is_parsed() -> None:
    huge = b'{"text": "' + b"x" * rules.MAX_MESSAGE_BYTES + b'"}'
    with pytest.raises(InvalidMessage, match="bytes; the limit is"):
        decode_bug_report(huge)


def test_json_nested_too_deeply_is_refused_at_once_not_retried_as_a_bug() -> None:
    with pytest.raises(InvalidMessage, match="nested too deeply"):
        decode_bug_report(b"[" * 100_000 + b"]" * 100_000)


@pytest.mark.parametrize("value", [None, 42, ["a"], {"a": 1}])
def test_wrong_types_are_refused_with_the_field_named(value: object) -> None:
    with pytest.raises(InvalidMessage, match="reporter/name"):
        decode_bug_report(_report(name=value))


def test_schema_reasons_never_quote_the_value() -> None:
    with pytest.raises(InvalidMessage) as refused:
        decode_bug_report(_report(email="no-at-sign-secret-person"))
    assert "secret-person" not in str(refused.value)


def _declared(title: str = "CSV upload fails", **changes: object) -> bytes:
    event = IncidentDeclared("e1", "INC-1", NOW, title, "groups", "sev2", NOW + timedelta(hours=1))
    document = json.loads(encode_incident_event(event))
    document.update(changes)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (_declared("   "), "title: is empty"),
        (_declared("CSV\r\nBcc: x@evil.com"), "title: contains the control character"),
        (_declared(owner="owner@"), "owner: is not a deliverable email address"),
        (_declared(match=["csv\nupload"]), "match: contains"),
        (_declared(next_update_at="9999-01-01T00:00:00Z"), "next_update_at: must fall between"),
        (encode_incident_event(IncidentUpdated("e2", "INC-1", NOW, " \n\t ", NOW + timedelta(hours=1))),
         "message: is empty"),
    ],
)
def test_incident_events_follow_the_same_rules(raw: bytes, why: str) -> None:
    with pytest.raises(InvalidMessage, match=why):
        decode_incident_event(raw)


def test_a_title_is_stripped_and_a_long_promise_is_fine() -> None:
    event = decode_incident_event(_declared("  CSV upload fails  ", next_update_at=(NOW + timedelta(days=30)).isoformat()))
    assert isinstance(event, IncidentDeclared) and event.title == "CSV upload fails"


def test_the_rules_raise_invalid_input_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as refused:
        rules.line("x" * 300, "title", max_length=rules.MAX_TITLE)
    assert refused.value.field == "title" and "300 characters long" in refused.value.problem


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b'{"type": ["bug_report.received"], "version": 1}', "does not belong on this topic"),
        (b'{"type": "bug_report.received", "version": []}', "version must be an integer"),
        (b'{"type": "bug_report.received", "version": 1, "text": ' + b"9" * 5000 + b"}", "a number too long"),
    ],
)
def test_wrong_types_where_the_decoder_looks_first_are_refused_not_retried(raw: bytes, why: str) -> None:
    with pytest.raises(InvalidMessage, match=why):
        decode_bug_report(raw)


def test_a_cadence_longer_than_a_year_is_refused() -> None:
    with pytest.raises(InvalidMessage, match="update_every_seconds: must be at most"):
        decode_incident_event(_declared(update_every_seconds=10**20))


def test_an_international_domain_is_stored_in_ascii() -> None:
    assert decode_bug_report(_report(email="anna@münchen.example")).email == "anna@xn--mnchen-3ya.example"


@pytest.mark.parametrize("multiline", [False, True])
def test_the_one_scan_refuses_exactly_the_characters_the_unicode_categories_forbid(multiline: bool) -> None:
    """The regular expression that finds a suspect character agrees with the category check on every code point."""
    every_character = "".join(map(chr, range(sys.maxunicode + 1)))
    found = {match.start() for match in rules._SUSPECT[multiline].finditer(every_character)}
    forbidden = {point for point, character in enumerate(every_character) if rules._forbidden(character, multiline)}
    assert found == forbidden and len(forbidden) > 2000  # the surrogates alone are 2,048


@pytest.mark.parametrize("invisible", ["\u200b\u200b\u200b", " \ufeff ", "\u200d", "\u2060\u200c "])
def test_a_name_of_only_invisible_characters_is_empty(invisible: str) -> None:
    """A title or a name that shows nothing ("Declared INC-...: " and a blank greeting) is refused as empty."""
    with pytest.raises(InvalidMessage, match="reporter/name: is empty"):
        decode_bug_report(_report(name=invisible))
    assert decode_bug_report(_report(name="Zoë\u200dAnn")).name == "Zoë\u200dAnn"  # a joiner inside a name stays
