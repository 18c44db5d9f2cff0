"""When the mail API keeps failing: the delivery dies, operators see it, and can send it again."""

import json
import re
import time
from collections import Counter
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
from sqlalchemy import select

from broadcaster.embedded.broker import free_port
from broadcaster.mail.event_webhook import SIGNATURE, TIMESTAMP
from broadcaster.storage.database import make_engine
from broadcaster.storage.models import Delivery
from tests.support.waiting import wait_for
from tests.unit.test_event_webhook import PUBLIC, signed


def delivery_states(database_url: str) -> list[str]:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        states = list(connection.scalars(select(Delivery.state)))
    engine.dispose()
    return states


def skipped_because(database_url: str) -> set[str | None]:
    """Why the ledger skipped the deliveries it skipped (the person left, or the address is suppressed)."""
    engine = make_engine(database_url)
    with engine.connect() as connection:
        reasons = set(connection.scalars(select(Delivery.last_error).where(Delivery.state == "skipped")))
    engine.dispose()
    return reasons


def test_a_dead_delivery_is_listed_and_sent_once_when_retried(system_factory, sqlite_url: str) -> None:
    system = system_factory(sqlite_url, "sendgrid", delivery_max_attempts=1)
    system.sandbox.state.fail_share, system.sandbox.state.fail_status = 1.0, 503
    system.run("incident", "declare", "Search returns nothing", "--component", "search", "--match", "search")
    system.run("report", "submit", "--email", "ann@example.com", "--name", "Ann", "--text",
               "search is broken for me", "--component", "search")
    wait_for(lambda: delivery_states(sqlite_url) == ["dead"], what="the delivery to die")
    listed = system.run("deliveries").output
    assert "dead" in listed and "ann@example.com" in listed and "SendGrid answered 503" in listed

    system.sandbox.state.fail_share = 0.0  # the API is back
    assert "1 deliveries queued again." in system.run("deliveries", "retry").output
    wait_for(lambda: system.counts().get("ann@example.com") == Counter(acknowledgement=1), what="the resend")
    wait_for(lambda: delivery_states(sqlite_url) == ["sent"], what="the ledger to record the send")  # just after the API
    assert "No stuck, failed or dead deliveries." in system.run("deliveries").output


def test_a_fan_out_through_sendgrid_sends_each_person_once_in_a_few_requests(system_factory, sqlite_url: str) -> None:
    from tests.e2e.test_scale_out import seed_unlinked_reports

    seed_unlinked_reports(sqlite_url, 300)
    system = system_factory(sqlite_url, "sendgrid")
    system.run("incident", "declare", "Search returns nothing", "--component", "search", "--match", "search")
    wait_for(lambda: len(system.counts()) == 300, timeout=90, what="300 acknowledgements")
    assert set(map(tuple, (sorted(c.items()) for c in system.counts().values()))) == {(("acknowledgement", 1),)}
    assert system.sandbox.state.requests <= 5


def test_one_click_unsubscribes_and_bounces_stop_every_later_email(system_factory, sqlite_url: str) -> None:
    """One-click (RFC 8058) stops that incident's emails; a bounce stops everything."""
    port = free_port()
    system = system_factory(sqlite_url, worker_web_port=port, sendgrid_webhook_public_key=PUBLIC)
    declared = system.run("incident", "declare", "Search returns nothing", "--component", "search", "--match", "search")
    incident_id = re.search(r"Declared (INC-\S+):", declared.output).group(1)
    for who in ("ann", "bob"):
        system.run("report", "submit", "--email", f"{who}@example.com", "--name", who.title(), "--text",
                   "search is broken for me", "--component", "search")
    wait_for(lambda: len(system.counts()) == 2, what="both acknowledgements")
    ann = next(p for p in Path(system.settings.outbox_dir).glob("*.eml") if b"ann@example.com" in p.read_bytes())
    link = re.search(rb"List-Unsubscribe: <([^>]+)>", ann.read_bytes()).group(1).decode()
    assert link.startswith(f"http://127.0.0.1:{port}/unsubscribe?token=")  # no public URL: where the worker listens
    with urlopen(Request(link, data=b"List-Unsubscribe=One-Click", method="POST"), timeout=5) as answer:
        assert answer.status == 200
    system.run("incident", "update", incident_id, "A fix is being tested.")
    wait_for(lambda: system.counts()["bob@example.com"]["progress"] == 1, what="Bob's progress update")
    wait_for(lambda: "unsubscribed from this incident" in skipped_because(sqlite_url), what="Ann's update skipped")
    assert "progress" not in system.counts()["ann@example.com"]
    assert "No stuck, failed or dead deliveries." in system.run("deliveries").output  # she asked: nobody's failure
    status = system.invoke("status")
    assert status.exit_code == 0 and "ok   deliveries        none stuck or failing" in status.output, status.output
    assert re.search(r"bob@example\.com +Bob +since .*\n1 subscriber\(s\)\n1 no longer emailed about it:\n"
                     r"ann@example\.com +Ann +left this incident on ", system.run("subscribers", incident_id).output)

    bounce = [{"email": "bob@example.com", "event": "bounce", "type": "bounce", "sg_event_id": "ev-1"}, "junk"]
    body, stamp = json.dumps(bounce).encode(), str(int(time.time()))
    webhook = f"http://127.0.0.1:{port}/webhooks/sendgrid"
    forged = Request(webhook, data=body, method="POST", headers={SIGNATURE: signed(body, str(int(stamp) - 1)),
                                                                TIMESTAMP: stamp})
    with pytest.raises(HTTPError, match="403"):
        urlopen(forged, timeout=5)
    not_json = Request(webhook, data=b"{oops", method="POST", headers={SIGNATURE: signed(b"{oops", stamp), TIMESTAMP: stamp})
    with pytest.raises(HTTPError, match="400"):
        urlopen(not_json, timeout=5)
    for answered in ({"suppressed": 1, "repeated": 0}, {"suppressed": 0, "repeated": 1}):  # SendGrid posts it again
        good = Request(webhook, data=body, method="POST", headers={SIGNATURE: signed(body, stamp), TIMESTAMP: stamp})
        with urlopen(good, timeout=5) as answer:
            assert json.loads(answer.read()) == {"events": 2, "ignored": 1, "confirmed": 0, "recorded": 0, **answered}
    system.run("incident", "resolve", incident_id, "Search works again.")
    wait_for(lambda: "suppressed: bounce" in skipped_because(sqlite_url), what="Bob's resolution skipped")
    assert "resolution" not in system.counts()["bob@example.com"]
    subscribers = system.run("subscribers", incident_id).output
    assert f"{incident_id} has no subscribers.\n2 no longer emailed about it:" in subscribers
    assert re.search(r"bob@example\.com +Bob +address bounced on ", subscribers)
