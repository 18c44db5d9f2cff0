"""`broadcaster status` says what reached the intake API in the last hour, per entrance, on both databases."""

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from broadcaster.ops.health import intake_check
from broadcaster.storage.database import transaction
from broadcaster.storage.models import IntakeRequest

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _accepted(session: Session, number: int, desk: str | None, minutes_ago: int) -> None:
    session.add(IntakeRequest(desk=desk, idempotency_key=f"k{number}", report_id=f"r{number}",
                              accepted_at=NOW - timedelta(minutes=minutes_ago)))


def test_the_intake_line_counts_the_last_hour_per_entrance(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        assert intake_check(session, NOW).detail == "no report through the intake API in the last hour"
    with transaction(sessions) as session:
        for number, (desk, minutes_ago) in enumerate([(None, 5), (None, 59), ("zendesk", 1), ("intercom", 30),
                                                      ("zendesk", 61), (None, 600)]):
            _accepted(session, number, desk, minutes_ago)
    with sessions() as session:
        check = intake_check(session, NOW)
    assert check.healthy and check.detail == "4 report(s) in the last hour: api 2, intercom 1, zendesk 1"
