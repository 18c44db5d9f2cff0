"""The intake API over real HTTP, on the real broker, on SQLite and PostgreSQL."""

from collections.abc import Callable, Iterator

import pytest

from broadcaster.bootstrap import bootstrap, utc_now
from broadcaster.config import Settings
from broadcaster.domain.input_rules import MAX_MESSAGE_BYTES
from broadcaster.services import api_keys
from broadcaster.storage.database import transaction
from tests.support.intake import Intake, records, running_intake, unpublished
from tests.support.waiting import wait_for

REPORT = {"reporter": {"email": "Eric@Example.com", "name": "Eric Olsen"}, "text": "CSV upload fails", "component": "groups"}


@pytest.fixture
def intake(database_url: str, broker: str, settings_factory: Callable[..., Settings],
           topics_on: Callable[[Settings], None]) -> Iterator[Intake]:
    settings = settings_factory(database_url, kafka_bootstrap=broker, intake_rate_per_key=1000.0,
                                intake_burst_per_key=1000)
    topics_on(settings)
    with running_intake(settings) as running:
        yield running


def test_a_report_is_accepted_published_and_its_status_url_answers(intake: Intake) -> None:
    with intake.client() as client:
        answer = client.post("/v1/reports", json=REPORT)
        assert answer.status_code == 202, answer.text
        body = answer.json()
        assert body["status_url"].endswith(f"/v1/reports/{body['report_id']}")
        status = client.get(body["status_url"])
    assert status.status_code == 200 and status.json()["state"] == "received"
    wait_for(lambda: unpublished(intake) == 0, timeout=30, what="the report to be published")
    [record] = records(intake)
    assert record["report_id"] == body["report_id"] and record["source"] == "api"
    assert record["reporter"] == {"email": "eric@example.com", "name": "Eric Olsen"}


def test_the_same_idempotency_key_twice_is_one_report(intake: Intake) -> None:
    with intake.client() as client:
        answers = [client.post("/v1/reports", json=REPORT, headers={"Idempotency-Key": "ticket-42"}) for _ in range(2)]
    assert [a.status_code for a in answers] == [202, 202] and answers[0].json() == answers[1].json()
    wait_for(lambda: unpublished(intake) == 0, timeout=30, what="the report to be published")
    assert [r["report_id"] for r in records(intake)] == [answers[0].json()["report_id"]]


def test_a_client_chosen_report_id_sent_twice_is_one_report(intake: Intake) -> None:
    with intake.client() as client:
        answers = [client.post("/v1/reports", json=REPORT | {"report_id": "desk-7"}) for _ in range(2)]
    assert [a.json()["report_id"] for a in answers] == ["desk-7", "desk-7"]
    wait_for(lambda: unpublished(intake) == 0, timeout=30, what="the report to be published")
    assert len(records(intake)) == 1


def test_a_report_id_another_client_chose_first_is_refused_with_409_not_dropped(intake: Intake) -> None:
    """The worker keeps one report per id: the second client's report was answered 202 and silently lost."""
    other = intake.new_key("other-desk")
    with intake.client() as client:
        first = client.post("/v1/reports", json=REPORT | {"report_id": "ticket-123"})
    with intake.client(other) as client:
        second = client.post("/v1/reports", json=REPORT | {"report_id": "ticket-123", "text": "Billing is wrong"})
        unclaimed = client.post("/v1/reports", json=REPORT | {"report_id": "ticket-124"})
    with intake.client() as client:
        again = client.post("/v1/reports", json=REPORT | {"report_id": "ticket-123"})
    assert (first.status_code, again.status_code, unclaimed.status_code) == (202, 202, 202)
    assert second.status_code == 409, second.text
    assert second.json()["errors"] == [{"field": "report_id", "problem": "is already the id of another client's report: "
                                                                       "choose ids unique to you, or leave report_id out"}]
    wait_for(lambda: unpublished(intake) == 0, timeout=30, what="the reports to be published")
    assert sorted(r["report_id"] for r in records(intake)) == ["ticket-123", "ticket-124"]
    assert [r["text"] for r in records(intake) if r["report_id"] == "ticket-123"] == ["CSV upload fails"]


def test_no_key_a_wrong_key_or_a_revoked_key_is_refused_with_401(intake: Intake) -> None:
    revoked = intake.new_key("old")
    with transaction(bootstrap(intake.settings).sessions) as session:
        api_keys.revoke(session, "old", utc_now())
    with intake.client() as client:
        assert client.post("/v1/reports", json=REPORT).status_code == 202  # the live key still works
        assert client.post("/v1/reports", json=REPORT, headers={"Authorization": ""}).status_code == 401
    for key in ("bk_not-a-key", revoked):
        with intake.client(key) as client:
            answer = client.post("/v1/reports", json=REPORT)
            assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == "Bearer"


def test_invalid_reports_are_refused_with_422_naming_each_field_without_quoting_it(intake: Intake) -> None:
    long_name = "N" * 5000
    bad = {"reporter": {"email": "not an address", "name": f"Eric\x07{long_name}"}, "text": 42, "component": ["x"]}
    with intake.client() as client:
        answer = client.post("/v1/reports", json=bad)
        not_json = client.post("/v1/reports", content=b"{nope", headers={"Content-Type": "application/json"})
    assert answer.status_code == 422
    fields = {error["field"] for error in answer.json()["errors"]}
    assert fields == {"reporter/email", "reporter/name", "text", "component"}
    assert "not an address" not in answer.text and long_name not in answer.text and len(answer.text) < 1000
    assert not_json.status_code == 422 and not_json.json()["errors"][0]["field"] == "(body)"
    assert unpublished(intake) == 0 and records(intake, quiet_seconds=0.5) == []


def test_a_body_over_the_limit_is_refused_with_413(intake: Intake) -> None:
    huge = REPORT | {"text": "x" * MAX_MESSAGE_BYTES}
    with intake.client() as client:
        assert client.post("/v1/reports", json=huge).status_code == 413


def test_a_burst_over_the_key_rate_gets_429_with_retry_after(
    sqlite_url: str, broker: str, settings_factory: Callable[..., Settings], topics_on: Callable[[Settings], None]
) -> None:
    settings = settings_factory(sqlite_url, kafka_bootstrap=broker, intake_rate_per_key=0.5, intake_burst_per_key=3)
    topics_on(settings)
    with running_intake(settings) as intake, intake.client() as client:
        codes = [client.post("/v1/reports", json=REPORT) for _ in range(5)]
        other_key = intake.new_key("other")
        with intake.client(other_key) as other:
            assert other.post("/v1/reports", json=REPORT).status_code == 202  # one key's burst is its own
    assert [a.status_code for a in codes] == [202, 202, 202, 429, 429]
    assert int(codes[3].headers["Retry-After"]) >= 1


def test_with_the_broker_down_a_report_is_still_accepted_and_waits_in_the_outbox(
    sqlite_url: str, settings_factory: Callable[..., Settings]
) -> None:
    from broadcaster.embedded.broker import free_port

    settings = settings_factory(sqlite_url, kafka_bootstrap=f"127.0.0.1:{free_port()}")  # nothing listens there
    with running_intake(settings) as intake, intake.client() as client:
        answer = client.post("/v1/reports", json=REPORT)
        assert answer.status_code == 202
        assert client.get(answer.json()["status_url"]).json()["state"] == "received"
        assert unpublished(intake) == 1  # durable: the worker's relay publishes it once the broker is back
