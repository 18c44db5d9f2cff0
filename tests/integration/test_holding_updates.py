"""Holding updates on real SQL (SQLite and PostgreSQL): one per cadence period, escalation, quiet hours, notes.

The cadence timer (``services.cadence.due_work``) is played every five minutes of a made-up
clock and what it asks for is applied as the worker would; the emails are claimed and
composed through the ledger, as the deliver processor does.
"""

import itertools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from broadcaster.cli.main import cli
from broadcaster.config import Settings
from broadcaster.domain.email import OutgoingEmail
from broadcaster.domain.events import (
    BugReportReceived,
    CadenceChanged,
    HoldingUpdateDue,
    IncidentDeclared,
    IncidentNoted,
    IncidentResolved,
    IncidentUpdated,
    UpdatePublished,
)
from broadcaster.domain.incidents import IncidentError, holding_event_id
from broadcaster.domain.notifications import DeliveryState
from broadcaster.domain.quiet_hours import QuietHours
from broadcaster.messages.sender import Sender
from broadcaster.messages.times import when
from broadcaster.services import composing, ledger
from broadcaster.services.cadence import Reminder, due_work
from broadcaster.services.incidents import apply_incident_event
from broadcaster.services.linking import LinkingModel
from broadcaster.services.reports import receive_report
from broadcaster.storage.models import Delivery, Incident, IncidentNote, IncidentUpdate, OutboxMessage
from broadcaster.wire.codec import decode_incident_event
from tests.support.services import fan_out_all
from tests.support.worker import settings_environment

T0 = datetime(2026, 11, 24, 16, 15, tzinfo=UTC)  # 00:15 in Manila, 13:15 in São Paulo
CADENCE = timedelta(hours=1)
TICK = timedelta(minutes=5)
LEAD, GRACE, LEASE = timedelta(minutes=10), timedelta(minutes=15), timedelta(minutes=2)
SENDER = Sender("Example", "Example Support")
INCIDENT = "INC-HOLD"


@pytest.fixture
def model(database_url: str) -> LinkingModel:
    return LinkingModel(Settings(database_url=database_url, holding_escalate_after=2))


def apply(sessions: sessionmaker[Session], model: LinkingModel, event, now: datetime) -> UpdatePublished | None:
    with sessions.begin() as session:
        return apply_incident_event(session, event, now=now, model=model)


def declare(sessions: sessionmaker[Session], model: LinkingModel) -> None:
    apply(sessions, model, IncidentDeclared(
        f"declare-{INCIDENT}", INCIDENT, T0, "CSV upload to pre-approved members fails", "groups", "sev2",
        T0 + CADENCE, ("csv upload",), "Uploads fail.", "Add members one at a time.", update_every=CADENCE,
        owner="owner@example.com", second_owner="manager@example.com"), T0)


def subscribe(sessions: sessionmaker[Session], model: LinkingModel, email: str, time_zone: str | None = None) -> None:
    report = BugReportReceived(f"r-{email}", T0, email, email.split("@")[0].title(), "CSV upload fails", "groups",
                               "test", time_zone=time_zone)
    with sessions.begin() as session:
        receive_report(session, report, now=T0, model=model)


def tick(sessions: sessionmaker[Session], model: LinkingModel, now: datetime) -> list[Reminder]:
    """One run of the cadence timer; each holding update it requests is applied twice (Kafka redelivers)."""
    with sessions.begin() as session:
        work = due_work(session, now, lead=LEAD, grace=GRACE, escalate_after=2)
    for event in work.holding:
        assert apply(sessions, model, event, now) == apply(sessions, model, event, now)
    return work.reminders


def run_clock(sessions: sessionmaker[Session], model: LinkingModel, start: datetime, end: datetime,
              engineer: Callable[[datetime], None] = lambda now: None) -> list[Reminder]:
    """Tick every five minutes from ``start`` until ``end``; ``engineer`` acts before each tick."""
    reminders, now = [], start
    while now <= end:
        engineer(now)
        reminders += tick(sessions, model, now)
        now += TICK
    return reminders


def hold(sessions: sessionmaker[Session], model: LinkingModel, now: datetime) -> UpdatePublished:
    """The holding update the timer would ask for now that the incident's promise is missed."""
    with sessions() as session:
        promised = session.get_one(Incident, INCIDENT).next_update_at
    assert promised is not None
    published = apply(sessions, model, HoldingUpdateDue(holding_event_id(INCIDENT, promised), INCIDENT, now, promised),
                      now)
    assert published is not None
    return published


def holding_updates(sessions: sessionmaker[Session]) -> list[IncidentUpdate]:
    with sessions() as session:
        return list(session.scalars(select(IncidentUpdate).where(IncidentUpdate.kind == "holding")
                                    .order_by(IncidentUpdate.id)))


def emails_of(sessions: sessionmaker[Session], update: UpdatePublished | IncidentUpdate, now: datetime,
              quiet: QuietHours | None = None) -> list[OutgoingEmail]:
    """Fan the update out as the worker does (its rows claimed as they go in) and compose what the claim let through."""
    job = update if isinstance(update, UpdatePublished) else UpdatePublished(update.incident_id, update.id)
    claimed = fan_out_all(sessions, job, now, size=100, rules=ledger.ClaimRules(LEASE, max_attempts=5, quiet=quiet))
    with sessions.begin() as session:
        return composing.compose_claimed(session, claimed, SENDER, now).emails


def text_of(sessions: sessionmaker[Session], update: UpdatePublished, now: datetime) -> str:
    (email,) = emails_of(sessions, update, now)
    return email.text


def test_never_more_than_one_holding_update_per_cadence_period_even_when_the_promise_is_moved_sooner(
    sessions: sessionmaker[Session], model: LinkingModel
) -> None:
    declare(sessions, model)

    def move_promise_sooner(now: datetime) -> None:  # an engineer promises news in 15 minutes, then does not give it
        if now == T0 + timedelta(hours=1, minutes=30):
            apply(sessions, model, CadenceChanged("sooner", INCIDENT, now, next_update_at=now + timedelta(minutes=15)),
                  now)

    run_clock(sessions, model, T0, T0 + timedelta(hours=6), move_promise_sooner)
    times = [update.created_at - T0 for update in holding_updates(sessions)]
    # 1:00 missed -> 1:15; the 1:45 promise missed at 2:00 is only 45 minutes after it: moved to 2:15, missed -> 2:30;
    # that second one in a row promises 2 hours (4:30), missed -> 4:45.
    assert times == [timedelta(hours=1, minutes=15), timedelta(hours=2, minutes=30), timedelta(hours=4, minutes=45)]
    assert all(later - earlier >= CADENCE for earlier, later in itertools.pairwise(times))


def test_after_holding_updates_in_a_row_the_email_owns_up_the_promise_doubles_and_the_second_owner_is_reminded(
    sessions: sessionmaker[Session], model: LinkingModel
) -> None:
    declare(sessions, model)
    subscribe(sessions, model, "eric@example.com")
    reminders = run_clock(sessions, model, T0, T0 + timedelta(hours=4, minutes=20))
    first, second = holding_updates(sessions)
    assert first.next_update_at - first.created_at == CADENCE  # 1:15 -> 2:15
    assert second.next_update_at - second.created_at == 2 * CADENCE  # 2:30 -> 4:30: twice the cadence

    first_text = text_of(sessions, UpdatePublished(INCIDENT, first.id), first.created_at)
    second_text = text_of(sessions, UpdatePublished(INCIDENT, second.id), second.created_at)
    assert "the first time we write to you without a fix" in first_text
    assert "taking longer than we hoped" not in first_text
    assert "the second time we write to you without a fix" in second_text
    assert "this is taking longer than we hoped" in second_text
    assert f"We will write to you again by {when(T0 + timedelta(hours=4, minutes=30))}" in second_text

    assert [(r.promise_at - T0, r.owner_email, r.second_owner_email, r.holding_in_a_row) for r in reminders] == [
        (timedelta(hours=1), "owner@example.com", None, 0),
        (timedelta(hours=2, minutes=15), "owner@example.com", None, 1),
        (timedelta(hours=4, minutes=30), "owner@example.com", "manager@example.com", 2),  # the second owner too
    ]

    news_at = T0 + timedelta(hours=4, minutes=30)  # real news ends the run of holding updates
    apply(sessions, model, IncidentUpdated("news", INCIDENT, news_at, "We found the cause.",
                                           news_at + CADENCE), news_at)
    later = run_clock(sessions, model, news_at, news_at + CADENCE + GRACE)
    after_news = holding_updates(sessions)[-1]
    assert after_news.created_at == news_at + timedelta(hours=1, minutes=15)
    assert after_news.next_update_at - after_news.created_at == CADENCE
    assert [r.second_owner_email for r in later] == [None]
    assert "taking longer" not in text_of(sessions, UpdatePublished(INCIDENT, after_news.id), after_news.created_at)


def test_quiet_hours_skip_a_holding_update_for_the_reader_at_night_while_the_reader_in_daytime_gets_it(
    sessions: sessionmaker[Session], model: LinkingModel
) -> None:
    declare(sessions, model)
    subscribe(sessions, model, "maria@example.com", time_zone="Asia/Manila")  # 01:30 there: night
    subscribe(sessions, model, "joao@example.com", time_zone="America/Sao_Paulo")  # 14:30 there
    night = QuietHours.parse("22:00-07:00")
    at = T0 + timedelta(hours=1, minutes=15)
    holding = hold(sessions, model, at)
    assert [email.to_email for email in emails_of(sessions, holding, at, night)] == ["joao@example.com"]
    with sessions() as session:
        skipped = session.execute(select(Delivery.state, Delivery.last_error).where(
            Delivery.update_id == holding.update_id, Delivery.state != DeliveryState.SENDING)).all()
    assert skipped == [(DeliveryState.SKIPPED, "quiet hours: a holding update at night in the reader's time zone")]

    news = apply(sessions, model, IncidentUpdated("news", INCIDENT, at, "We found the cause.", at + CADENCE), at)
    assert news is not None  # news is worth waking up to: both readers get it
    assert sorted(e.to_email for e in emails_of(sessions, news, at, night)) == ["joao@example.com",
                                                                                 "maria@example.com"]


def minutes(count: int) -> datetime:
    return T0 + timedelta(minutes=count)


def note(sessions: sessionmaker[Session], model: LinkingModel, event_id: str, message: str, at: datetime,
         *, share: bool = False) -> None:
    assert apply(sessions, model, IncidentNoted(event_id, INCIDENT, at, message, share), at) is None


def test_the_next_holding_update_quotes_the_latest_shared_note_or_progress_and_never_an_unshared_note(
    sessions: sessionmaker[Session], model: LinkingModel
) -> None:
    declare(sessions, model)
    subscribe(sessions, model, "eric@example.com")
    apply(sessions, model, IncidentUpdated("cause", INCIDENT, minutes(10), "We found the cause: the new CSV parser.",
                                           minutes(70)), minutes(10))
    secret = "Suspect Bob's deploy of parser v2"
    note(sessions, model, "internal-1", secret, minutes(20))
    first = hold(sessions, model, minutes(85))
    assert "What the team is doing now: We found the cause: the new CSV parser." in text_of(sessions, first, minutes(85))

    note(sessions, model, "shared", "We are rolling the importer back on every server.", minutes(100), share=True)
    note(sessions, model, "internal-2", f"{secret}: confirmed", minutes(110))
    second = hold(sessions, model, minutes(150))
    note(sessions, model, "shared-later", "Half the servers are rolled back.", minutes(155), share=True)
    (email,) = emails_of(sessions, second, minutes(160))  # composed after a newer note: quotes what was said by 150
    assert "What the team is doing now: We are rolling the importer back on every server." in email.text
    assert f"The team wrote this on {when(minutes(100))}." in email.text and "last news" not in email.text
    assert "rolling the importer back on every server." in email.html

    apply(sessions, model, IncidentUpdated("progress", INCIDENT, minutes(170), "The importer is rolled back.",
                                           minutes(230)), minutes(170))
    third = hold(sessions, model, minutes(245))
    third_text = text_of(sessions, third, minutes(245))
    assert "What the team is doing now: The importer is rolled back." in third_text
    assert f"That was our last news, on {when(minutes(170))}." in third_text

    with sessions() as session:
        every_email = session.scalar(select(func.count()).select_from(Delivery)) or 0
        sent_texts = [e.message for e in session.scalars(select(IncidentUpdate))]
    assert every_email == 4  # the acknowledgement and three holding updates (progress was not fanned out here)
    assert not any(secret in text for text in sent_texts)
    for update in (first, second, third):
        for message in emails_of(sessions, update, minutes(250)):  # claimed again after the lease: composed again
            assert secret not in message.text + message.html


def test_a_note_is_kept_once_and_refused_on_an_unknown_or_resolved_incident(
    sessions: sessionmaker[Session], model: LinkingModel
) -> None:
    declare(sessions, model)
    note(sessions, model, "n1", "Looking at the parser", T0)
    note(sessions, model, "n1", "Looking at the parser", T0)  # redelivered
    with pytest.raises(IncidentError, match="cannot add a note to INC-NONE: no such incident was declared"):
        apply(sessions, model, IncidentNoted("n2", "INC-NONE", T0, "Hello"), T0)
    apply(sessions, model, IncidentResolved("done", INCIDENT, T0, "Fixed", "Upload again"), T0)
    with pytest.raises(IncidentError, match=f"cannot add a note to {INCIDENT}: it was resolved at"):
        apply(sessions, model, IncidentNoted("n3", INCIDENT, T0, "Too late"), T0)
    note(sessions, model, "n1", "Looking at the parser", T0)  # a redelivery after resolution is still no error
    with sessions() as session:
        assert session.scalars(select(IncidentNote.event_id)).all() == ["n1"]


def _cli(settings: Settings, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=settings_environment(settings))
    return result.exit_code, result.output


def _accepted(sessions: sessionmaker[Session]) -> Sequence[bytes]:
    with sessions() as session:
        return [row.value for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


def test_incident_note_goes_through_the_outbox_shows_in_incident_show_and_refuses_bad_input(
    sessions: sessionmaker[Session], model: LinkingModel, database_url: str, broker: str,
    settings_factory: Callable[..., Settings], tmp_path: Path,
) -> None:
    settings = settings_factory(database_url, kafka_bootstrap=broker)
    declare(sessions, model)
    assert _cli(settings, "incident", "note", INCIDENT, "Suspect the parser", "--wait", "0") == (
        0, f"Internal note kept with {INCIDENT}; subscribers never see it (--share would let the next holding "
           "update quote it).\n")
    code, said = _cli(settings, "incident", "note", INCIDENT, "Rolling back the importer", "--share", "--wait", "0")
    assert code == 0 and "the next holding update quotes it as what the team is doing now" in said
    for value in _accepted(sessions):  # the worker's part: decode what was accepted, apply it
        apply(sessions, model, decode_incident_event(value), T0 + timedelta(minutes=5))

    code, shown = _cli(settings, "incident", "show", INCIDENT)
    assert code == 0, shown
    assert "internal Suspect the parser" in shown and "shared   Rolling back the importer" in shown

    for args, reason in [
        ((INCIDENT, ""), "not sent: incident.noted v1: message: is empty"),
        ((INCIDENT, " \n "), "not sent: message"),
        ((INCIDENT, "x" * 5001), "not sent: incident.noted v1: message: is longer than 5,000 characters"),
        (("INC-NONE", "Hello"), "no incident INC-NONE; `broadcaster incident list` shows them"),
    ]:
        code, said = _cli(settings, "incident", "note", *args, "--wait", "0")
        assert code == 1 and reason in said and "Traceback" not in said, said
    apply(sessions, model, IncidentResolved("done", INCIDENT, T0, "Fixed", "Upload again"), T0)
    code, said = _cli(settings, "incident", "note", INCIDENT, "Too late", "--wait", "0")
    assert code == 1 and f"{INCIDENT} was resolved at" in said, said
    assert len(_accepted(sessions)) == 2  # nothing refused was accepted
