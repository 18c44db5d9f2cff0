"""Issue 16: emails from a person, in the reader's time, never repeating themselves, graded by the rubric checker."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from broadcaster.demo import checker
from broadcaster.domain import input_rules as rules
from broadcaster.domain.incidents import holding_cadence, next_update_due
from broadcaster.domain.notifications import NotificationKind as Kind
from broadcaster.domain.quiet_hours import QuietHours
from broadcaster.mail.mime import to_mime
from broadcaster.messages.compose import EmailFacts, compose
from broadcaster.messages.sender import Sender
from broadcaster.messages.times import ReaderTime, when

T0 = datetime(2026, 11, 25, 21, 15, tzinfo=UTC)
SENDER = Sender("Example", "Example Support", communicators=("Angela B.", "Matt K."))
FACTS = EmailFacts(
    delivery_id=7, kind=Kind.ACKNOWLEDGEMENT, to_email="priya@example.com", to_name="Priya Raman",
    report_text="The pre-approved members list won't take my spreadsheet: unexpected error.",
    reported_at=T0, incident_id="INC-261125-ABCD", incident_title="CSV upload to pre-approved members fails",
    status="investigating", description="Uploading a CSV fails.", workaround="Add members one at a time.",
    update_message="", update_at=T0, next_update_at=T0 + timedelta(hours=2), how_to_verify="Upload the CSV again.",
    severity="sev2", communicator="Angela B.", declared_at=T0, time_zone="Asia/Manila", locale="en_PH",
)
PROGRESS = replace(FACTS, kind=Kind.PROGRESS, status="identified", update_message="We found the cause.")
HOLDING = replace(PROGRESS, kind=Kind.HOLDING, update_message="No news yet", holding_in_a_row=1,
                  latest_news="We found the cause.", latest_news_at=T0)
MONITORING = replace(PROGRESS, status="monitoring", update_message="The fix is live; we are watching it.")
RESOLUTION = replace(FACTS, kind=Kind.RESOLUTION, status="resolved", update_message="Fixed.", next_update_at=None)
FIXED_REPLY = replace(RESOLUTION, kind=Kind.FIXED_REPLY)
READER = checker.Reader("Priya", FACTS.report_text, own_time_zone=True)


def as_received(facts: EmailFacts, now: datetime = T0) -> EmailMessage:
    """The email as the reader's mail client parses it (its Date is when it was composed)."""
    message = BytesParser(policy=policy.default).parsebytes(to_mime(compose(facts, SENDER, now), "support@example.com",
                                                                    "Example Support"))
    assert isinstance(message, EmailMessage)
    del message["Date"]
    message["Date"] = now.strftime("%a, %d %b %Y %H:%M:%S +0000")
    return message


@pytest.mark.parametrize("facts", [FACTS, PROGRESS, HOLDING, MONITORING, RESOLUTION, FIXED_REPLY],
                         ids=["acknowledgement", "progress", "holding", "monitoring", "resolution", "fixed_reply"])
def test_every_kind_of_email_earns_every_mark_of_the_rubric(facts: EmailFacts) -> None:
    grade = checker.grade(as_received(facts), READER)
    assert grade.passed, checker.table([grade])


def test_the_checker_fails_an_email_that_lost_its_apology_or_its_signature() -> None:
    message = as_received(PROGRESS)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    unsigned = "\n".join(line for line in text.splitlines() if line.strip() != "Angela B.")
    message.get_body(("plain",)).set_content(unsigned.replace("I'm sorry", "Note"))  # type: ignore[union-attr]
    marks = checker.grade(message, READER).marks
    assert marks["apology"] == "MISSING" and marks["signed"] == "MISSING" and marks["name"] == "ok"


def test_a_promise_already_due_is_moved_later_and_rounded_as_a_person_writes_it() -> None:
    composed_at = T0 + timedelta(hours=1, minutes=58)  # the stored promise (23:15) is two minutes away
    text = compose(FACTS, SENDER, composed_at).text
    assert "again by Thursday, November 26 at 7:45 AM your time (Manila, UTC+8)" in text  # 23:43 -> 23:45 UTC
    assert checker.grade(as_received(FACTS, composed_at), READER).marks["promise"] == "ok"
    assert next_update_due(datetime(2026, 1, 1, 10, 1, tzinfo=UTC), timedelta(hours=1)).minute == 15


def test_times_follow_the_readers_zone_and_conventions_and_always_name_the_zone() -> None:
    assert when(T0, ReaderTime("Asia/Manila", "en_GB", own=True)) == "Thursday 26 November at 05:15 your time (Manila, UTC+8)"
    sao_paulo = when(T0, ReaderTime("America/Sao_Paulo", "pt_BR", own=True))  # CLDR 47 (Babel 2.19) writes "São"
    assert sao_paulo.endswith(("at 18:15 your time (Sao Paulo, UTC-3)", "at 18:15 your time (São Paulo, UTC-3)"))
    new_york = ReaderTime("America/New_York", "en_US", own=False)  # a configured default: not "your time"
    assert when(T0, new_york) == "Wednesday, November 25 at 4:15 PM New York time (UTC-5)"
    assert when(T0) == "Wednesday 25 November at 21:15 UTC"


def test_the_sender_is_a_person_chosen_once_per_incident() -> None:
    email = compose(replace(FACTS, communicator=None), SENDER, T0)
    signer = SENDER.signer(FACTS.incident_id)
    assert signer in ("Angela B.", "Matt K.") and all(SENDER.signer(FACTS.incident_id) == signer for _ in range(5))
    assert email.from_name == f"{signer} at Example Support" and f"\n{signer}\nExample Support\n" in email.text
    assert Sender("Example", "Example Support").from_name(None) == "Example Support"  # nobody on the roster


def test_wording_follows_the_status_and_the_severity() -> None:
    assert "not fixed yet" not in compose(MONITORING, SENDER, T0).text
    assert "A fix is in place" in compose(MONITORING, SENDER, T0).text
    assert "serious outage" in compose(replace(FACTS, severity="sev1"), SENDER, T0).text
    assert "small fault" in compose(replace(FACTS, severity="sev4"), SENDER, T0).text
    assert "we have found the cause" in compose(replace(FACTS, status="identified"), SENDER, T0).text


def test_holding_updates_say_something_new_each_time_and_own_up_when_it_takes_longer() -> None:
    first = compose(replace(HOLDING, declared_at=T0 - timedelta(hours=3)), SENDER, T0).text
    second = compose(replace(HOLDING, holding_in_a_row=2, declared_at=T0 - timedelta(hours=5)), SENDER, T0).text
    assert "the first time we write to you without a fix" in first and "about 3 hours" in first
    assert "What the team is doing now: We found the cause." in first and "taking longer than we hoped" not in first
    assert "the second time" in second and "about 5 hours" in second and "taking longer than we hoped" in second
    assert holding_cadence(timedelta(hours=2), 2, escalate_after=2) == timedelta(hours=4)


def test_a_follow_up_is_recognised_in_the_readers_own_time() -> None:
    text = compose(replace(PROGRESS, followed_up_at=T0 + timedelta(minutes=17)), SENDER, T0).text
    assert ("Thank you for the follow-up at 5:32 AM your time (Manila, UTC+8); "
            "I'm sorry you had to write again.") in text
    assert "follow-up" not in compose(PROGRESS, SENDER, T0).text


def test_a_follow_up_time_names_the_zone_for_readers_in_the_default_zone_too() -> None:
    in_default = replace(PROGRESS, followed_up_at=T0 + timedelta(minutes=17), time_zone=None, locale=None)
    assert "Thank you for the follow-up at 21:32 UTC;" in compose(in_default, SENDER, T0).text
    lisbon = replace(SENDER, default_time_zone="Europe/Lisbon")
    email = compose(in_default, lisbon, T0)
    assert "Thank you for the follow-up at 21:32 Lisbon time (UTC+0);" in email.text
    assert "21:32 Lisbon time (UTC+0)" in email.html


@pytest.mark.parametrize("facts", [replace(MONITORING, kind=kind) for kind in (Kind.PROGRESS, Kind.ACKNOWLEDGEMENT)],
                         ids=["progress", "acknowledgement"])
def test_once_a_fix_is_in_place_the_next_update_is_not_promised_for_when_it_is_fixed(facts: EmailFacts) -> None:
    email = compose(facts, SENDER, T0)
    for part in (email.text, email.html):
        assert "as soon as it is fixed" not in part
        assert "to tell you how the fix is holding up" in part
    unpromised = compose(replace(facts, next_update_at=None), SENDER, T0)
    assert "We will write to you again once we are sure the fix holds." in unpromised.text
    still_broken = compose(replace(facts, status="identified"), SENDER, T0)
    assert "or as soon as it is fixed if that comes first" in still_broken.text
    assert "or as soon as it is fixed if that comes first" in still_broken.html


def test_time_zones_and_locales_are_checked_like_every_other_input() -> None:
    assert rules.time_zone("Asia/Manila") == "Asia/Manila" and rules.locale("en-US") == "en_US"
    for bad_zone in ("Mars/Olympus", "../../etc/passwd", "Asia/Manila\n"):
        with pytest.raises(rules.InvalidInput, match="time_zone"):
            rules.time_zone(bad_zone)
    with pytest.raises(rules.InvalidInput, match="locale: is not a locale we know"):
        rules.locale("xx-YY")


def test_quiet_hours_span_midnight_in_the_readers_zone() -> None:
    night = QuietHours.parse("22:00-07:00")
    assert night.contains(T0, "Europe/Paris")  # 22:15 in Paris
    assert night.contains(T0, "Asia/Manila")  # 05:15 there: quiet until 07:00
    assert not night.contains(T0, "America/New_York")  # 16:15
    assert QuietHours.parse("05:00-06:00").contains(T0, "Asia/Manila")
    with pytest.raises(ValueError, match="22:00-07:00"):
        QuietHours.parse("late")
