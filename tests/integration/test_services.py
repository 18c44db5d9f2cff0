"""The service layer on real SQL (SQLite and PostgreSQL): linking, fan-out and the ledger.

Every handler must be idempotent, because Kafka delivers at least once: these tests
call them twice where a redelivery could.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from broadcaster.domain.email import SendResult
from broadcaster.domain.events import IncidentResolved, IncidentUpdated
from broadcaster.domain.incidents import IncidentError
from broadcaster.domain.notifications import NotificationKind
from broadcaster.messages.sender import Sender
from broadcaster.services import composing, ledger
from broadcaster.services.delivery_trouble import trouble_counts
from broadcaster.services.fanout import catch_up
from broadcaster.services.reports import Outcome, receive_reports
from broadcaster.storage.models import Delivery, IncidentUpdate, Report, Subscriber
from tests.support.services import LEASE, RULES, T0, apply, declared, fan_out_all, receive, report

WINDOW = timedelta(hours=72)


def count(sessions: sessionmaker[Session], query) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(query)) or 0


def test_a_report_before_any_incident_is_stored_unlinked(sessions, model) -> None:
    result = receive(sessions, model, report("r1", "eric@example.com", "CSV upload fails", T0), T0)
    assert result.outcome is Outcome.UNLINKED
    assert count(sessions, select(Report).where(Report.incident_id.is_(None)).subquery()) == 1


def test_declaring_links_reports_within_the_window_and_not_older_ones(sessions, model) -> None:
    receive(sessions, model, report("old", "old@example.com", "CSV upload fails", T0 - timedelta(hours=80)), T0)
    receive(sessions, model, report("r1", "eric@example.com", "CSV upload fails", T0 - timedelta(hours=1)), T0)
    receive(sessions, model, report("other", "sonia@example.com", "billing is wrong", T0 - timedelta(hours=1)), T0)
    job = apply(sessions, model, declared(), T0)
    acknowledged = fan_out_all(sessions, job, T0)
    with sessions() as session:
        linked = {r.id for r in session.scalars(select(Report).where(Report.incident_id == "INC-1"))}
    assert linked == {"r1"}
    assert len(acknowledged) == 1


def test_a_reporter_who_writes_twice_is_one_subscriber_with_one_acknowledgement(sessions, model) -> None:
    apply(sessions, model, declared(), T0)
    first = receive(sessions, model, report("r1", "eric@example.com", "CSV upload fails", T0), T0)
    second = receive(sessions, model, report("r2", "eric@example.com", "CSV upload still fails for me", T0), T0)
    assert first.outcome is Outcome.LINKED and len(first.delivery_ids) == 1
    assert second.delivery_ids == first.delivery_ids  # the same, still-queued acknowledgement
    assert count(sessions, select(Subscriber).subquery()) == 1
    assert count(sessions, select(Delivery).subquery()) == 1


def test_a_redelivered_report_changes_nothing(sessions, model) -> None:
    apply(sessions, model, declared(), T0)
    event = report("r1", "eric@example.com", "CSV upload fails", T0)
    assert receive(sessions, model, event, T0) == receive(sessions, model, event, T0 + timedelta(seconds=5))
    assert count(sessions, select(Delivery).subquery()) == 1


def test_a_batch_in_which_someone_writes_twice_subscribes_them_once_with_their_first_report_and_last_time_zone(
    sessions, model
) -> None:
    apply(sessions, model, declared(), T0)
    events = [replace(report("r1", "eric@example.com", "CSV upload fails", T0), time_zone="Europe/Lisbon"),
              report("r2", "sonia@example.com", "CSV upload fails", T0),
              replace(report("r3", "eric@example.com", "CSV upload fails", T0), locale="pt_PT"),
              replace(report("r4", "eric@example.com", "CSV upload still fails", T0), time_zone="Europe/Madrid")]
    for attempt in range(2):  # a redelivered batch changes nothing
        with sessions.begin() as session:
            results = receive_reports(session, events, now=T0 + timedelta(seconds=attempt), model=model)
        assert [results[e.report_id].outcome for e in events] == [Outcome.LINKED] * 4
        assert results["r1"].delivery_ids == results["r3"].delivery_ids == results["r4"].delivery_ids
        assert len(set(results["r1"].delivery_ids + results["r2"].delivery_ids)) == 2
    with sessions() as session:
        people = session.execute(select(Subscriber.email, Subscriber.first_report_id, Subscriber.time_zone,
                                        Subscriber.locale, Subscriber.source).order_by(Subscriber.email)).all()
        linked = session.execute(select(Report.id, Report.incident_id, Report.linked_at, Report.link_state)
                                 .order_by(Report.id)).all()
    assert people == [("eric@example.com", "r1", "Europe/Madrid", "pt_PT", "reporter"),
                      ("sonia@example.com", "r2", None, None, "reporter")]
    assert linked == [(i, "INC-1", T0, "linked") for i in ("r1", "r2", "r3", "r4")]


def test_an_affected_person_who_reports_becomes_a_reporter_and_is_not_queued_a_second_first_email(
    sessions, model
) -> None:
    apply(sessions, model, declared(), T0)
    with sessions.begin() as session:
        session.add(Subscriber(incident_id="INC-1", email="maz@example.com", name="Maz", source="affected",
                               confirmed=False, subscribed_at=T0, time_zone="Asia/Manila", locale="en_PH"))
        session.flush()
        affected = session.scalars(select(Subscriber.id)).one()
        ledger.queue(session, [ledger.Wanted(_latest_update(session), affected, NotificationKind.AFFECTED)], now=T0)
    result = receive(sessions, model, replace(report("r1", "maz@example.com", "CSV upload fails", T0),
                                              time_zone="Europe/Lisbon"), T0)
    assert result.outcome is Outcome.LINKED
    with sessions() as session:
        person = session.execute(select(Subscriber.id, Subscriber.first_report_id, Subscriber.confirmed,
                                        Subscriber.source, Subscriber.time_zone, Subscriber.locale)).one()
        kinds = session.scalars(select(Delivery.kind)).all()
        queued = session.scalars(select(Delivery.id)).all()
    assert tuple(person) == (affected, "r1", True, "reporter", "Europe/Lisbon", "en_PH")
    assert kinds == ["affected"]
    assert result.delivery_ids == queued  # the email already queued for them is announced again


def _latest_update(session: Session) -> int:
    return session.scalars(select(func.max(IncidentUpdate.id))).one()


def test_a_redelivered_incident_event_is_applied_once(sessions, model) -> None:
    apply(sessions, model, declared(), T0)
    update = IncidentUpdated("u1", "INC-1", T0, "Fix in test", T0 + timedelta(hours=1))
    assert apply(sessions, model, update, T0) == apply(sessions, model, update, T0)


def test_every_update_is_queued_once_per_subscriber_even_when_fanned_out_again(sessions, model) -> None:
    apply(sessions, model, declared(), T0)
    for n in range(5):
        receive(sessions, model, report(f"r{n}", f"user{n}@example.com", "CSV upload fails", T0), T0)
    later = T0 + timedelta(minutes=5)
    job = apply(sessions, model, IncidentUpdated("u1", "INC-1", later, "Fix in test", later + timedelta(hours=1)), later)
    first = fan_out_all(sessions, job, later)
    assert fan_out_all(sessions, job, later) == []  # redelivered while the first worker sends: nobody gets it twice
    again = fan_out_all(sessions, job, later + LEASE + timedelta(seconds=1))  # that worker died: the same rows again
    assert len(first) == 5 and sorted(again) == sorted(first)
    assert count(sessions, select(Delivery).where(Delivery.kind == "progress").subquery()) == 5


def test_a_subscriber_who_joins_after_an_update_is_not_sent_that_update_again(sessions, model) -> None:
    apply(sessions, model, declared(), T0)
    later = T0 + timedelta(minutes=5)
    job = apply(sessions, model, IncidentUpdated("u1", "INC-1", later, "Fix in test", later), later)
    result = receive(sessions, model, report("r1", "late@example.com", "CSV upload fails", later), later + timedelta(1))
    assert len(result.delivery_ids) == 1  # the acknowledgement, which carries the latest news
    assert fan_out_all(sessions, job, later) == []


def test_a_report_after_resolution_gets_the_fixed_reply_and_nothing_after_the_window(sessions, model) -> None:
    apply(sessions, model, declared(), T0)
    apply(sessions, model, IncidentResolved("done", "INC-1", T0, "Fixed", "Upload again"), T0)
    result = receive(sessions, model, report("late", "tom@example.com", "CSV upload fails", T0), T0 + timedelta(hours=1))
    assert result.outcome is Outcome.FIXED_REPLY and len(result.delivery_ids) == 1
    with sessions() as session:
        assert session.get_one(Delivery, result.delivery_ids[0]).kind == "fixed_reply"
    much_later = T0 + timedelta(days=8)
    stale = receive(sessions, model, report("later", "ann@example.com", "CSV upload fails", much_later), much_later)
    assert stale.outcome is Outcome.UNLINKED


def test_updates_to_unknown_or_resolved_incidents_are_refused(sessions, model) -> None:
    with pytest.raises(IncidentError, match="no such incident"):
        apply(sessions, model, IncidentUpdated("u0", "INC-404", T0, "?", T0), T0)
    apply(sessions, model, declared(), T0)
    apply(sessions, model, IncidentResolved("done", "INC-1", T0, "Fixed"), T0)
    with pytest.raises(IncidentError, match="was resolved"):
        apply(sessions, model, IncidentUpdated("u1", "INC-1", T0, "more?", T0), T0)


def test_a_claimed_delivery_cannot_be_claimed_again_until_its_lease_expires(sessions, model) -> None:
    apply(sessions, model, declared(), T0)
    ids = receive(sessions, model, report("r1", "eric@example.com", "CSV upload fails", T0), T0).delivery_ids
    with sessions.begin() as session:
        assert ledger.claim(session, ids, now=T0, lease=LEASE, max_attempts=5) == ids
    with sessions.begin() as session:
        assert ledger.claim(session, ids, now=T0 + timedelta(seconds=30), lease=LEASE, max_attempts=5) == []
    with sessions() as session:
        assert ledger.stalled(session, now=T0 + LEASE + timedelta(seconds=1), lease=LEASE) == ids
    with sessions.begin() as session:
        assert ledger.claim(session, ids, now=T0 + LEASE + timedelta(seconds=1), lease=LEASE, max_attempts=5) == ids


def test_sent_rows_are_never_claimed_again_and_failures_end_dead(sessions, model) -> None:
    apply(sessions, model, declared(), T0)
    sent = receive(sessions, model, report("r1", "eric@example.com", "CSV upload fails", T0), T0).delivery_ids
    bad = receive(sessions, model, report("r2", "bad@example.com", "CSV upload fails", T0), T0).delivery_ids
    with sessions.begin() as session:
        ledger.claim(session, sent + bad, now=T0, lease=LEASE, max_attempts=5)
        emails = composing.compose_claimed(session, sent + bad, Sender("Example", "Example Support")).emails
        assert [e.to_email for e in emails] == ["eric@example.com", "bad@example.com"]
        ledger.record(session, [SendResult(sent[0], True), SendResult(bad[0], False, "400 bad address")],
                        now=T0, policy=ledger.RetryPolicy(max_attempts=5))
    with sessions.begin() as session:
        assert ledger.claim(session, sent + bad, now=T0 + timedelta(hours=1), lease=LEASE, max_attempts=5) == []
        assert session.get_one(Delivery, bad[0]).state == "dead"


def test_catch_up_queues_the_latest_update_for_a_subscriber_every_path_missed(sessions, model) -> None:
    apply(sessions, model, declared(), T0)
    first = receive(sessions, model, report("r1", "eric@example.com", "CSV upload fails", T0), T0)
    later = T0 + timedelta(minutes=5)
    update = IncidentUpdated("u1", "INC-1", later, "Fix in test", later + timedelta(hours=1))
    job = apply(sessions, model, update, later)
    fan_out_all(sessions, job, later)
    # A subscriber whose row became visible only after the fan-out paged (another worker's slow transaction).
    with sessions.begin() as session:
        session.add(Report(id="r2", email="maz@example.com", name="Maz", text="CSV upload fails", component="groups",
                           source="test", received_at=T0, incident_id="INC-1", linked_at=T0, link_state="linked"))
        session.flush()
        session.add(Subscriber(incident_id="INC-1", email="maz@example.com", name="Maz", first_report_id="r2",
                               subscribed_at=T0))
    with sessions.begin() as session:
        assert catch_up(session, now=later, settle=timedelta(minutes=1)) != []
    with sessions.begin() as session:
        assert catch_up(session, now=later, settle=timedelta(minutes=1)) == []  # once only
    with sessions() as session:
        rows = session.execute(select(Subscriber.email, Delivery.kind)
                               .join(Delivery, Delivery.subscriber_id == Subscriber.id)).all()
    assert sorted(rows) == [("eric@example.com", "acknowledgement"), ("eric@example.com", "progress"),
                            ("maz@example.com", "progress")]
    assert len(first.delivery_ids) == 1


def test_a_send_the_provider_confirms_is_recorded_and_never_swept_again(sessions, model) -> None:
    apply(sessions, model, declared(), T0)
    ids = receive(sessions, model, report("r1", "eric@example.com", "CSV upload fails", T0), T0).delivery_ids
    with sessions.begin() as session:
        ledger.claim(session, ids, now=T0, lease=LEASE, max_attempts=5)  # the worker sends, then dies before recording
    later = T0 + timedelta(seconds=5)
    with sessions.begin() as session:
        assert ledger.confirm_accepted(session, ids, now=later) == 1  # the Event Webhook's "processed"
        assert ledger.confirm_accepted(session, ids, now=later) == 0
    with sessions.begin() as session:
        assert session.get_one(Delivery, ids[0]).state == "sent"
        assert ledger.stalled(session, now=T0 + LEASE * 10, lease=LEASE) == []
        assert ledger.claim(session, ids, now=T0 + LEASE * 10, lease=LEASE, max_attempts=5) == []


def test_a_throttled_delivery_waits_as_asked_and_failures_back_off(sessions, model) -> None:
    apply(sessions, model, declared(), T0)
    ids = receive(sessions, model, report("r1", "eric@example.com", "CSV upload fails", T0), T0).delivery_ids
    with sessions.begin() as session:
        ledger.claim(session, ids, now=T0, lease=LEASE, max_attempts=5)
        ledger.record(session, [SendResult(ids[0], False, "429", True, retry_after=90)], now=T0,
                      policy=ledger.RetryPolicy(max_attempts=5))
    with sessions.begin() as session:
        assert ledger.claim(session, ids, now=T0 + timedelta(seconds=60), lease=LEASE, max_attempts=5) == []
        assert ledger.stalled(session, now=T0 + timedelta(seconds=60), lease=LEASE) == []
    with sessions.begin() as session:
        assert ledger.stalled(session, now=T0 + timedelta(seconds=91), lease=LEASE) == ids
        assert ledger.claim(session, ids, now=T0 + timedelta(seconds=91), lease=LEASE, max_attempts=5) == ids


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    for attempts, ceiling in [(1, 5), (2, 10), (4, 40), (20, 600)]:
        wait = ledger.RetryPolicy().backoff(attempts).total_seconds()
        assert ceiling / 2 <= wait <= ceiling
    quick = ledger.RetryPolicy(base=timedelta(seconds=0.5), cap=timedelta(seconds=4))
    assert 2 <= quick.backoff(4).total_seconds() <= 4 and 2 <= quick.backoff(30).total_seconds() <= 4


def test_every_claim_counts_as_an_attempt_so_a_row_whose_sender_keeps_dying_ends_dead(sessions, model) -> None:
    """A row that kills its worker each time (lease expiry after lease expiry) dies at the limit, with its reason."""
    apply(sessions, model, declared(), T0)
    ids = receive(sessions, model, report("r1", "eric@example.com", "CSV upload fails", T0), T0).delivery_ids
    moment = T0
    for attempt in range(1, 4):
        with sessions.begin() as session:
            assert ledger.claim(session, ids, now=moment, lease=LEASE, max_attempts=3) == ids, attempt
        moment += LEASE + timedelta(seconds=1)  # the worker died: the lease runs out
    with sessions.begin() as session:
        assert ledger.stalled(session, now=moment, lease=LEASE) == ids
        assert trouble_counts(session, now=moment, lease=LEASE) == {"stuck": 1, "failed": 0, "held": 0, "dead": 0}
        assert ledger.claim(session, ids, now=moment, lease=LEASE, max_attempts=3) == []
    with sessions() as session:
        row = session.get_one(Delivery, ids[0])
        assert (row.state, row.attempts) == ("dead", 3) and "gave up after 3 attempts" in (row.last_error or "")
        assert ledger.stalled(session, now=moment, lease=LEASE) == []
        assert trouble_counts(session, now=moment, lease=LEASE) == {"stuck": 0, "failed": 0, "held": 0, "dead": 1}


def test_a_refused_account_holds_deliveries_without_spending_attempts_however_long_it_lasts(sessions, model) -> None:
    """401/403 are about our account, not the recipient: ten refusals later the row is still waiting, not dead."""
    apply(sessions, model, declared(), T0)
    ids = receive(sessions, model, report("r1", "eric@example.com", "CSV upload fails", T0), T0).delivery_ids
    moment, policy = T0, ledger.RetryPolicy(max_attempts=3)
    for _ in range(10):
        with sessions.begin() as session:
            assert ledger.claim(session, ids, now=moment, lease=LEASE, max_attempts=3) == ids
            held = SendResult(ids[0], False, "held: SendGrid answered 403", True, retry_after=300, held=True)
            assert ledger.record(session, [held], now=moment, policy=policy) == {"sent": 0, "held": 1}
        with sessions.begin() as session:
            assert ledger.stalled(session, now=moment + timedelta(seconds=299), lease=LEASE) == []
            assert trouble_counts(session, now=moment, lease=LEASE)["held"] == 1
        moment += timedelta(seconds=300)
    with sessions.begin() as session:
        row = session.get_one(Delivery, ids[0])
        assert (row.state, row.attempts) == ("held", 0)
        assert ledger.stalled(session, now=moment, lease=LEASE) == ids
        assert ledger.claim(session, ids, now=moment, lease=LEASE, max_attempts=3) == ids
        ledger.record(session, [SendResult(ids[0], True)], now=moment, policy=policy)
        assert session.get_one(Delivery, ids[0]).state == "sent"


@dataclass(frozen=True)
class SenderFailingFor(Sender):
    """A sender whose signing fails for one email, as a composing bug for one person would."""

    failing_delivery_id: int = 0

    def incident_token(self, delivery_id: int) -> str:
        if delivery_id == self.failing_delivery_id:
            raise UnicodeEncodeError("utf-8", str(delivery_id), 0, 1, "cannot sign")
        return super().incident_token(delivery_id)


def test_a_row_that_cannot_be_composed_is_refused_alone_and_the_rest_of_its_page_is_composed(sessions, model) -> None:
    apply(sessions, model, declared(), T0)
    ids = [receive(sessions, model, report(f"r{n}", f"user{n}@example.com", "CSV upload fails", T0), T0).delivery_ids[0]
           for n in range(5)]
    with sessions.begin() as session:
        ledger.claim(session, ids, now=T0, lease=LEASE, max_attempts=5)
        composed = composing.compose_claimed(session, ids, SenderFailingFor("Example", "Example Support",
                                                                         failing_delivery_id=ids[2]))
    assert sorted(e.delivery_id for e in composed.emails) == sorted(set(ids) - {ids[2]})
    [refused] = composed.refused
    assert refused.delivery_id == ids[2] and not refused.retryable and "cannot be composed" in (refused.error or "")


def test_a_reporter_who_writes_again_is_thanked_for_it_once_in_the_next_email_composed(sessions, model) -> None:
    """Eric's second report, after his acknowledgement went out, is recognised by the next email and only by it."""
    sender = Sender("Example", "Example Support")

    def send(claimed: list[int], at: datetime) -> list[bool]:
        with sessions.begin() as session:
            composed = composing.compose_claimed(session, claimed, sender, at)
            ledger.record(session, [SendResult(i, True) for i in claimed], now=at,
                          policy=ledger.RetryPolicy(max_attempts=5))
        return ["Thank you for the follow-up" in email.text for email in composed.emails]

    apply(sessions, model, declared(), T0)
    acknowledgement = receive(sessions, model, report("r1", "eric@example.com", "CSV upload fails", T0), T0)
    other = receive(sessions, model, report("r2", "ann@example.com", "CSV upload fails", T0), T0)
    with sessions.begin() as session:
        acknowledgements = ledger.claim(session, acknowledgement.delivery_ids + other.delivery_ids, now=T0, **RULES._asdict())
    assert send(acknowledgements, T0) == [False, False]
    again = T0 + timedelta(minutes=10)
    receive(sessions, model, report("r3", "eric@example.com", "CSV upload still fails for me", again), again)
    for minutes, update_id in ((20, "u1"), (30, "u2")):
        at = T0 + timedelta(minutes=minutes)
        job = apply(sessions, model, IncidentUpdated(update_id, "INC-1", at, "Fix in test", at + timedelta(hours=1)), at)
        progress = sorted(fan_out_all(sessions, job, at))
        thanked = send(progress, at)
        assert thanked == ([True, False] if update_id == "u1" else [False, False])  # Eric once, Ann never


def test_the_status_of_a_report_says_what_its_reporter_was_told(sessions, model) -> None:
    """GET /v1/reports/{id}, for a support agent: linked, fixed_reply after the fix, waiting with its promise."""
    from broadcaster.services import intake

    apply(sessions, model, declared(), T0)
    receive(sessions, model, report("r1", "eric@example.com", "CSV upload fails", T0), T0)
    receive(sessions, model, report("r2", "sonia@example.com", "I was charged twice for my plan", T0), T0)
    fixed = T0 + timedelta(hours=1)
    apply(sessions, model, IncidentResolved("resolve-1", "INC-1", fixed, "Fixed.", "Upload again."), fixed)
    receive(sessions, model, report("r3", "tom@example.com", "CSV upload fails", fixed), fixed)
    states = {r: intake.status(sessions, r) for r in ("r1", "r2", "r3")}
    assert (states["r1"]["state"], states["r1"]["incident_id"]) == ("linked", "INC-1")
    assert (states["r3"]["state"], states["r3"]["incident_id"]) == ("fixed_reply", "INC-1")
    assert states["r2"]["state"] == "unlinked" and "reply_by" in states["r2"]
    assert intake.status(sessions, "nobody") is None
