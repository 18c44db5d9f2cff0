"""A report POSTed to the intake API while a worker runs: its reporter is acknowledged, and its status says linked."""

from collections import Counter

from tests.e2e.conftest import System
from tests.support.intake import running_intake
from tests.support.waiting import wait_for


def test_a_reporter_who_posts_to_the_api_is_acknowledged(system_factory, sqlite_url: str) -> None:
    system: System = system_factory(sqlite_url)
    system.run("incident", "declare", "CSV upload to pre-approved members fails", "--component", "groups",
               "--match", "csv upload", "--match", "pre-approved", "--next-update-in", "2h")
    settings = system.settings.model_copy(update={"kafka_bootstrap": system.bootstrap})
    report = {"reporter": {"email": "maz@example.com", "name": "Maz Ahmed"}, "component": "groups",
              "text": "unexpected error when I upload a CSV to my group's pre-approved list"}
    with running_intake(settings) as intake, intake.client() as client:
        answer = client.post("/v1/reports", json=report)
        assert answer.status_code == 202, answer.text
        wait_for(lambda: system.counts().get("maz@example.com") == Counter(acknowledgement=1), timeout=60,
                 what="Maz's acknowledgement")
        status = client.get(answer.json()["status_url"]).json()
    assert status["state"] == "linked" and status["incident_id"].startswith("INC-")
