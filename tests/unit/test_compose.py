"""The wording customers receive: the promises in issue 2, checked one by one."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from broadcaster.domain.notifications import NotificationKind as Kind
from broadcaster.messages.compose import EmailFacts, compose, compose_group, excerpt
from broadcaster.messages.sender import Sender

REPORTED = datetime(2026, 2, 1, 16, 15, tzinfo=UTC)
SENDER = Sender("Example", "Example Support")
FACTS = EmailFacts(
    delivery_id=7, kind=Kind.ACKNOWLEDGEMENT, to_email="eric@example.com", to_name="Eric Olsen",
    report_text="Unexpected error when I upload the CSV of <b>pre-approved</b> members",
    reported_at=REPORTED, incident_id="INC-260201-ABCD",
    incident_title="CSV upload to pre-approved members fails", status="investigating",
    description="Uploading a CSV fails with unexpected error.", workaround="Add members one by one.",
    update_message="", update_at=REPORTED, next_update_at=REPORTED + timedelta(hours=2),
    how_to_verify="Upload the CSV again.",
)
RESOLVED = replace(FACTS, kind=Kind.RESOLUTION, status="resolved", update_message="Fixed.", next_update_at=None)


@pytest.mark.parametrize("facts", [FACTS, replace(FACTS, kind=Kind.PROGRESS, update_message="Testing a fix."),
                                   RESOLVED, replace(RESOLVED, kind=Kind.FIXED_REPLY)])
def test_every_email_uses_the_name_refers_to_their_report_and_apologises(facts: EmailFacts) -> None:
    email = compose(facts, SENDER)
    for body in (email.text, email.html):
        assert "Hi Eric," in body
        assert "Sunday 1 February at 16:15 UTC" in body
        assert "Unexpected error when I upload the CSV" in body
        assert "sorry" in body.lower()
        assert "Eric" in body.split("Hi Eric,", 1)[1]  # thanked by name at the end too
    assert email.to_email == "eric@example.com"
    assert email.headers["X-Broadcaster-Incident"] == "INC-260201-ABCD"


def test_the_subject_carries_the_state() -> None:
    assert compose(FACTS, SENDER).subject.startswith("[Investigating] CSV upload")
    assert compose(RESOLVED, SENDER).subject.startswith("[Resolved] CSV upload")


def test_the_acknowledgement_says_what_is_known_what_to_do_and_when_we_write_next() -> None:
    text = compose(FACTS, SENDER, now=REPORTED).text  # composed when it was written: the promise stands
    assert "What we know: Uploading a CSV fails with unexpected error." in text
    assert "What you can do meanwhile: Add members one by one." in text
    assert "again by Sunday 1 February at 18:15 UTC" in text


def test_the_resolution_shows_how_to_check_and_thanks() -> None:
    text = compose(RESOLVED, SENDER).text
    assert "How to check it yourself:\nUpload the CSV again." in text
    assert "Thank you for reporting it, Eric" in text
    assert "write to you again by" not in text


def test_the_late_reply_says_it_was_fixed_and_to_try_again() -> None:
    text = compose(replace(RESOLVED, kind=Kind.FIXED_REPLY), SENDER).text
    assert "we fixed it on Sunday 1 February" in text
    assert "Please try again." in text


def test_user_text_is_escaped_in_html_and_left_alone_in_text() -> None:
    email = compose(FACTS, SENDER)
    assert "&lt;b&gt;pre-approved&lt;/b&gt;" in email.html
    assert "<b>pre-approved</b>" not in email.html
    assert "<b>pre-approved</b>" in email.text


def test_a_page_escapes_in_html_only_what_needs_it_and_shares_one_value_for_the_rest() -> None:
    tom = replace(RESOLVED, delivery_id=8, to_name="T&J's Bakery", report_text="upload fails")
    ana = replace(RESOLVED, delivery_id=9, to_name="Ana", report_text="upload fails")
    emails = compose_group([tom, ana], SENDER)
    assert "Hi T&amp;J&#39;s," in emails[0].html and "Hi T&J's," in emails[0].text
    assert "Hi Ana," in emails[1].html and "-bc_" not in emails[1].html + emails[1].text
    assert "-bc_name_html-" in emails[1].substitutions and "-bc_excerpt_html-" not in emails[1].substitutions
    calm = compose_group([ana, replace(ana, delivery_id=10, to_name="Bo")], SENDER)
    assert not any(tag.endswith("_html-") for email in calm for tag in email.substitutions)
    assert "Hi Bo," in calm[1].html and calm[0].html == compose(ana, SENDER).html


def test_what_everyone_in_a_page_shares_is_written_once_and_only_what_differs_is_filled_per_person() -> None:
    ana = replace(RESOLVED, delivery_id=9, to_name="Ana", affected=True, report_text="")
    bo = replace(ana, delivery_id=10, to_name="Bo")
    emails = compose_group([ana, bo], SENDER)
    assert not {"-bc_page-", "-bc_excerpt-", "-bc_followup-"} & set(emails[0].substitutions)
    assert {"-bc_name-", "-bc_unsubscribe-", "-bc_manage-", "-bc_reply-"} <= set(emails[0].substitutions)
    for email, alone in zip(emails, (compose(ana, SENDER), compose(bo, SENDER)), strict=True):
        assert (email.text, email.html) == (alone.text, alone.html)  # as if each were written for one person


def test_a_shared_value_that_looks_like_a_tag_is_still_filled_as_written() -> None:
    """Written into the shared content, ``-bc_name-`` in everyone's report would become each reader's name."""
    ana = replace(RESOLVED, delivery_id=9, to_name="Ana", report_text="-bc_name- shows on my invoice")
    emails = compose_group([ana, replace(ana, delivery_id=10, to_name="Bo")], SENDER)
    assert all('"-bc_name- shows on my invoice"' in email.text for email in emails)
    assert "Hi Bo," in emails[1].text


def test_long_reports_are_quoted_as_an_excerpt_on_a_word_boundary() -> None:
    quoted = excerpt("word " * 100)
    assert len(quoted) <= 160 and quoted.endswith("word…")


def test_every_email_carries_a_one_click_unsubscribe_from_its_own_incident() -> None:
    from broadcaster.domain.unsubscribe import DeliveryToken, Scope, verify

    sender = Sender("Example", "Example Support", "s3cret", "https://status.example.com")
    email = compose(FACTS, sender)
    link = email.headers["List-Unsubscribe"].strip("<>")
    assert link.startswith("https://status.example.com/unsubscribe?token=")
    assert email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert verify(link.split("token=")[1], ("s3cret",)) == DeliveryToken(FACTS.delivery_id, Scope.INCIDENT)
    assert link in email.text and link in email.html
