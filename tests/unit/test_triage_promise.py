"""The triage promise in pure Python: when it falls due, how a wait is said, and what the receipt and reminder say."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from broadcaster.config import Settings
from broadcaster.domain.triage import ReminderStage, WaitingReport, describe_wait, due_label, reminder_stage
from broadcaster.messages.compose import ReceiptFacts, compose_receipt, compose_triage_reminder
from broadcaster.messages.sender import Sender

T0 = datetime(2026, 11, 24, 16, 15, tzinfo=UTC)
SENDER = Sender("Example", "Example Support")
RECEIPT = ReceiptFacts(9, "r-sonia", "sonia@example.com", "Sonia Keller",
                       "Charged for a <b>year</b>, I wanted the monthly plan.", T0, T0 + timedelta(hours=2))


@pytest.mark.parametrize(("delta", "said"), [
    (timedelta(seconds=40), "under a minute"), (timedelta(minutes=35), "35 min"), (timedelta(hours=3), "3 h"),
    (timedelta(hours=3, minutes=5, seconds=59), "3 h 5 min"), (timedelta(days=2, hours=4), "2 d 4 h"),
    (timedelta(days=2, minutes=10), "2 d"),
])
def test_a_wait_is_said_as_a_person_says_it(delta: timedelta, said: str) -> None:
    assert describe_wait(delta) == said


def test_a_promise_is_due_in_a_while_then_overdue_by_a_while() -> None:
    due = T0 + timedelta(hours=2)
    assert due_label(due, T0 + timedelta(minutes=80)) == "due in 40 min"
    assert due_label(due, due) == "overdue by under a minute"
    assert due_label(due, due + timedelta(minutes=35)) == "overdue by 35 min"


def test_the_owner_is_reminded_within_the_lead_and_once_overdue() -> None:
    due, lead = T0 + timedelta(hours=2), timedelta(minutes=15)
    assert reminder_stage(due, due - timedelta(minutes=16), lead) is None
    assert reminder_stage(due, due - timedelta(minutes=15), lead) is ReminderStage.DUE_SOON
    assert reminder_stage(due, due, lead) is ReminderStage.OVERDUE


def test_the_receipt_names_the_person_quotes_them_and_says_when_they_hear_back() -> None:
    email = compose_receipt(RECEIPT, SENDER)
    assert email.subject == "We have your message and will reply by Tuesday 24 November at 18:15 UTC"
    for body in (email.text, email.html):
        assert "Hi Sonia," in body and "Thank you, Sonia." in body
        assert "Tuesday 24 November at 16:15 UTC" in body  # when they wrote
        assert "automatic" in body and "A person on our team will read it" in body
        assert "Tuesday 24 November at 18:15 UTC" in body
        assert "unsubscribe" not in body.lower()  # one note answering their own message, not a list
    assert '"Charged for a <b>year</b>, I wanted the monthly plan."' in email.text
    assert "Charged for a &lt;b&gt;year&lt;/b&gt;" in email.html and "<b>year" not in email.html
    assert email.headers == {"X-Broadcaster-Report": "r-sonia", "X-Broadcaster-Kind": "triage_receipt",
                             "X-Broadcaster-Delivery": "9"}


def test_a_receipt_without_a_promise_is_refused_rather_than_vague() -> None:
    with pytest.raises(ValueError, match="promises a time"):
        compose_receipt(replace(RECEIPT, reply_by=None), SENDER)


def test_the_owner_reminder_lists_overdue_and_nearly_due_reports_with_what_to_do() -> None:
    late = WaitingReport("r-1", "sonia@example.com", "Charged for a year", T0, T0 + timedelta(hours=2), "unlinked")
    soon = WaitingReport("r-2", "ann@example.com", "Search is odd", T0, T0 + timedelta(hours=2, minutes=40),
                         "suggested", "INC-SEARCH", 0.4)
    email = compose_triage_reminder("ops@example.com", [late], [soon], T0 + timedelta(hours=2, minutes=35), SENDER)
    assert email.to_email == "ops@example.com"
    assert email.subject == "Reports waiting for a person: 1 overdue, 1 due soon"
    overdue, due_soon = email.text.split("Overdue:")[1].split("Due soon:")
    assert "r-1, from sonia@example.com, overdue by 35 min" in overdue and '"Charged for a year"' in overdue
    assert "r-2, from ann@example.com, due in 5 min" in due_soon
    assert "broadcaster triage confirm r-2" in due_soon
    assert "broadcaster triage close REPORT" in email.text
    only_late = compose_triage_reminder("ops@example.com", [late], [], T0 + timedelta(hours=3), SENDER)
    assert only_late.subject == "Reports waiting for a person: 1 overdue" and "Due soon" not in only_late.text


def test_triage_settings_parse_like_other_durations_and_refuse_a_bad_owner() -> None:
    assert Settings(triage_within="90m").triage_within == timedelta(minutes=90)
    assert Settings(triage_owner="Ops@Example.com").triage_owner == "ops@example.com"
    with pytest.raises(ValidationError, match="not a duration"):
        Settings(triage_within="soon")
    with pytest.raises(ValidationError, match="BROADCASTER_TRIAGE_OWNER: is not a deliverable email address"):
        Settings(triage_owner="ops@")


def test_receipts_are_on_unless_turned_off_or_a_support_desk_already_auto_replies() -> None:
    assert Settings().sends_triage_receipts
    assert not Settings(triage_receipts="off").sends_triage_receipts
    assert not Settings(zendesk_webhook_secret="s").sends_triage_receipts
    assert not Settings(intercom_client_secret="s").sends_triage_receipts
    assert Settings(zendesk_webhook_secret="s", triage_receipts="on").sends_triage_receipts
