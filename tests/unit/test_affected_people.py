"""Affected people (issue 17), the pure parts: reading their CSV, what their emails say, the fan-out page jobs."""

import io
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broadcaster.domain.affected import AffectedPerson, BadHeader, RefusedRow, read_people
from broadcaster.domain.events import FanOutPage, UpdatePublished
from broadcaster.domain.notifications import NotificationKind as Kind
from broadcaster.messages.compose import compose
from broadcaster.wire.codec import decode_fan_out_job, encode_fan_out_page, encode_update_published
from broadcaster.wire.errors import InvalidMessage
from tests.unit.test_compose import FACTS, RESOLVED, SENDER


def people(text: str) -> list[AffectedPerson | RefusedRow]:
    return list(read_people(text.splitlines(keepends=True)))


def from_bytes(data: bytes) -> list[AffectedPerson | RefusedRow]:
    """The file's rows as the command reads them (cli/affected.py: UTF-8, a BOM skipped, bytes that are not
    UTF-8 kept as lone surrogates)."""
    return list(read_people(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", errors="surrogateescape",
                                             newline="")))


def test_rows_are_read_by_header_name_with_aliases_a_bom_and_blank_lines_skipped() -> None:
    rows = people("\ufeffName,email,Time Zone,LOCALE\n"
                  + "Ana Lima,ANA@Example.COM,Europe/Lisbon,pt-PT\n\n"
                  + '"Doe, Jane",jane@example.com,,\n')
    assert rows == [AffectedPerson(2, "ana@example.com", "Ana Lima", "Europe/Lisbon", "pt_PT"),
                    AffectedPerson(4, "jane@example.com", "Doe, Jane", None, None)]


def test_a_bad_row_is_named_by_its_line_and_why_without_its_value_and_the_rest_is_read() -> None:
    rows = people('email,name,locale\n'
                  'ok@example.com,Ok,en\n'
                  'secret-value,Someone,en\n'
                  '"multi\nline@example.com",Two lines,en\n'
                  'x@example.com,X,not a locale!\n'
                  'y@example.com,"Bad\x07Name",en\n'
                  'last@example.com,Last,en-GB\n')
    refused = [r for r in rows if isinstance(r, RefusedRow)]
    assert [r.line for r in refused] == [3, 5, 6, 7]
    assert refused[0].reason.startswith("email: is not a deliverable email address")
    assert refused[2].reason.startswith("locale: is not a locale we know")
    assert "control character" in refused[3].reason
    assert all("secret-value" not in r.reason for r in refused)
    assert [r.email for r in rows if isinstance(r, AffectedPerson)] == ["ok@example.com", "last@example.com"]


def test_a_row_saved_in_a_windows_code_page_is_named_by_its_line_and_the_rest_is_read() -> None:
    rows = from_bytes("email,name\nana@example.com,Ana\njose@example.com,José\n".encode()
                      + "zoe@example.com,Zoë\nbea@example.com,Béa\n".encode("cp1252"))
    assert rows[:2] == [AffectedPerson(2, "ana@example.com", "Ana"), AffectedPerson(3, "jose@example.com", "José")]
    assert rows[2:] == [RefusedRow(4, "row: is not UTF-8 text (byte 0xEB): save the file as CSV UTF-8 "
                                      "(in Excel, File > Save As > CSV UTF-8)"),
                        RefusedRow(5, "row: is not UTF-8 text (byte 0xE9): save the file as CSV UTF-8 "
                                      "(in Excel, File > Save As > CSV UTF-8)")]
    with pytest.raises(BadHeader, match=r"the header row is not UTF-8 text \(byte 0xC4\)"):
        from_bytes("EMAIL,NAME,TIME ZONE\n".encode("cp1252").replace(b"E", b"\xc4", 1))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.binary(max_size=300).map(lambda tail: b"email,name,time_zone,locale\n" + tail))
def test_any_bytes_after_the_header_give_people_or_refused_rows_and_nobody_with_text_we_cannot_send(data: bytes) -> None:
    for row in from_bytes(data):
        if isinstance(row, AffectedPerson):
            "".join(filter(None, row[1:])).encode("utf-8")  # raises on a lone surrogate
        else:
            assert isinstance(row, RefusedRow) and row.line >= 2


@pytest.mark.parametrize(("text", "reason"), [
    ("", "the file is empty"),
    ("email\nana@example.com\n", "has no name column"),
    ("email,name,phone\n", "column 3 of the header is not one we know"),
    ("email,name,email\n", "names the column email twice"),
])
def test_a_header_without_the_columns_refuses_the_whole_file(text: str, reason: str) -> None:
    with pytest.raises(BadHeader, match=reason):
        people(text)


def test_the_first_email_of_someone_affected_says_they_need_not_write_and_quotes_no_report() -> None:
    facts = replace(FACTS, kind=Kind.AFFECTED, affected=True, report_text="", to_name="<b>Ana</b> Lima")
    email = compose(facts, SENDER)
    assert email.subject == "[Investigating] CSV upload to pre-approved members fails: it affected you, and we are on it"
    assert "You didn't need to write to us" in email.text and "You didn't need to write to us" in email.html
    assert "What you can do meanwhile: Add members one by one." in email.text
    assert "Thank you for writing" not in email.text and "<blockquote" not in email.html
    assert "&lt;b&gt;Ana&lt;/b&gt;" in email.html and "<b>Ana</b>" not in email.html
    assert "our records show this problem affected you" in email.html


def test_reporters_and_affected_people_of_one_update_never_share_content() -> None:
    reporter = compose(RESOLVED, SENDER)
    affected = compose(replace(RESOLVED, affected=True, report_text=""), SENDER)
    assert reporter.shared and affected.shared and reporter.shared.key != affected.shared.key
    assert "Good news: the problem that affected you is fixed." in affected.text
    assert "Thank you for reporting it" in reporter.text and "Thank you for reporting it" not in affected.text


def test_fan_out_jobs_survive_the_round_trip_and_a_bad_page_is_refused() -> None:
    page = FanOutPage("INC-1", 7, 3, 3000, 4000)
    assert decode_fan_out_job(encode_fan_out_page(page)) == page
    assert decode_fan_out_job(encode_fan_out_page(replace(page, through_subscriber_id=None))).through_subscriber_id is None
    assert decode_fan_out_job(encode_update_published(UpdatePublished("INC-1", 7))) == UpdatePublished("INC-1", 7)
    with pytest.raises(InvalidMessage):
        decode_fan_out_job(encode_fan_out_page(replace(page, after_subscriber_id=-1)))
