"""Never silent: a missed promise brings one owner reminder and one holding update per subscriber,
on a clock the test moves (no sleeping for hours), with a worker restart in between. Nobody waits
unseen either: a report no incident explains gets one receipt, and once overdue its triage owner
hears of it once."""

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from broadcaster.kafka.topics import ensure_topics
from tests.e2e.conftest import System
from tests.support.waiting import wait_for
from tests.support.worker import running_worker

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def set_clock(path: Path, moment: datetime) -> None:
    path.write_text(moment.isoformat())


def test_a_missed_promise_reminds_once_and_holds_once_across_a_restart(
    broker: str, settings_factory, sqlite_url: str, tmp_path: Path
) -> None:
    clock = tmp_path / "clock"
    set_clock(clock, T0)
    settings = settings_factory(sqlite_url, clock_file=clock, cadence_check_interval=0.3,
                                triage_owner="triage@example.com", triage_within="30m")
    ensure_topics(settings, broker)
    system = System(settings, broker, None)

    def kinds() -> Counter:
        return Counter((e["to"], e["kind"]) for e in system.emails())

    with running_worker(settings, broker):
        declared = system.run("incident", "declare", "Search returns nothing", "--component", "search",
                              "--match", "search", "--next-update-in", "1h", "--owner", "owner@example.com")
        incident_id = re.search(r"Declared (INC-\S+):", declared.output).group(1)
        for who in ("ann", "bob"):
            system.run("report", "submit", "--email", f"{who}@example.com", "--name", who.title(),
                       "--text", "search is broken, it returns nothing", "--component", "search")
        system.run("report", "submit", "--email", "sonia@example.com", "--name", "Sonia Keller", "--text",
                   "I was charged for a year, I wanted the monthly plan", "--component", "billing")
        wait_for(lambda: kinds()[("bob@example.com", "acknowledgement")] == 1, what="acknowledgements")
        wait_for(lambda: kinds()[("sonia@example.com", "triage_receipt")] == 1, what="Sonia's receipt")
        assert "due in 1h" in system.run("incident", "due").output

        set_clock(clock, T0 + timedelta(minutes=50))  # within the 15-minute reminder lead; Sonia's 30 min are over
        wait_for(lambda: kinds()[("owner@example.com", "owner_reminder")] == 1, what="the owner reminder")
        wait_for(lambda: kinds()[("triage@example.com", "triage_reminder")] == 1, what="the triage owner's reminder")
        system.run("report", "submit", "--email", "dee@example.com", "--name", "Dee",  # several timer ticks pass
                   "--text", "search is broken here too", "--component", "search")
        wait_for(lambda: kinds()[("dee@example.com", "acknowledgement")] == 1, what="a later acknowledgement")
        assert kinds()[("owner@example.com", "owner_reminder")] == 1  # the clock stood still: still one
        assert kinds()[("triage@example.com", "triage_reminder")] == 1

    set_clock(clock, T0 + timedelta(minutes=80))  # the promise (10:00) missed by more than the grace
    with running_worker(settings, broker):
        wait_for(lambda: kinds()[("bob@example.com", "holding")] == 1, what="the holding update")
        wait_for(lambda: kinds()[("ann@example.com", "holding")] == 1, what="the holding update")

    with running_worker(settings, broker):  # a second restart, the clock unchanged: nothing more
        system.run("report", "submit", "--email", "cy@example.com", "--name", "Cy",
                   "--text", "search broken for me too", "--component", "search")
        wait_for(lambda: kinds()[("cy@example.com", "acknowledgement")] == 1, what="a later acknowledgement")

    assert kinds() == Counter({
        ("ann@example.com", "acknowledgement"): 1, ("bob@example.com", "acknowledgement"): 1,
        ("owner@example.com", "owner_reminder"): 1,
        ("ann@example.com", "holding"): 1, ("bob@example.com", "holding"): 1,
        ("dee@example.com", "acknowledgement"): 1, ("dee@example.com", "holding"): 1,
        ("cy@example.com", "acknowledgement"): 1,
        ("sonia@example.com", "triage_receipt"): 1, ("triage@example.com", "triage_reminder"): 1,
    })
    receipt = next(e for e in system.emails() if e["kind"] == "triage_receipt")
    assert "you will hear back from us by Tuesday 24 November at 09:30 UTC" in receipt["text"]
    reminder = next(e for e in system.emails() if e["kind"] == "triage_reminder")
    assert "from sonia@example.com, overdue by 20 min" in reminder["text"]
    holding = next(e for e in system.emails() if e["kind"] == "holding")
    # the new promise: an hour after the holding update (10:20), rounded up to the quarter hour as a person writes it
    assert "it is not fixed yet" in holding["text"] and "11:30 UTC" in holding["text"]
    shown = system.run("incident", "show", incident_id).output
    assert "broken 1 time(s)" in shown and "news promised every 1h" in shown
    assert "due in 1h" in system.run("incident", "due").output  # the promise moved forward
