"""The unsubscribe page on a real worker: two choices, each doing what it says; forged links do nothing."""

import re
from html import unescape
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urljoin
from urllib.request import Request, urlopen

import pytest

from broadcaster.domain.unsubscribe import Scope, sign
from broadcaster.production import DEVELOPMENT_SECRET
from tests.e2e.conftest import System
from tests.e2e.test_deliveries import skipped_because
from tests.support.waiting import wait_for
from tests.unit.test_unsubscribe_tokens import legacy_token

SECRET = "e2e-production-like-" + "s" * 32
SEARCH = "--component", "search", "--match", "search"
CSV = "--component", "groups", "--match", "csv upload"


def declare(system: System, title: str, *how: str) -> str:
    declared = system.run("incident", "declare", title, *how)
    return re.search(r"Declared (INC-\S+):", declared.output).group(1)


def report(system: System, text: str, component: str) -> None:
    system.run("report", "submit", "--email", "ann@example.com", "--name", "Ann", "--text", text,
               "--component", component)


def anns(system: System, kind: str) -> list[str]:
    """The incidents of the emails of this kind Ann got."""
    return sorted(e["incident"] for e in system.emails() if e["to"] == "ann@example.com" and e["kind"] == kind)


def link_in_anns_email_about(system: System, incident_id: str) -> str:
    for path in Path(system.settings.outbox_dir).glob("*.eml"):
        raw = path.read_bytes()
        if b"ann@example.com" in raw and f"X-Broadcaster-Incident: {incident_id}".encode() in raw:
            return re.search(rb"List-Unsubscribe: <([^>]+)>", raw).group(1).decode()
    raise AssertionError(f"no email to Ann about {incident_id}")


def fetch(url: str, post: bool = False) -> str:
    with urlopen(Request(url, data=b"" if post else None, method="POST" if post else "GET"), timeout=5) as answer:
        return answer.read().decode()


def buttons(page_url: str, page: str) -> dict[str, str]:
    """Each button's label: the URL its form posts to."""
    forms = re.findall(r'<form method="post" action="([^"]+)"><button>([^<]+)</button></form>', page)
    return {label: urljoin(page_url, unescape(action)) for action, label in forms}


def test_the_page_offers_this_incident_or_everything_and_each_button_does_what_it_says(
    system_factory, sqlite_url: str
) -> None:
    system = system_factory(sqlite_url, unsubscribe_secret=SECRET)
    search, csv = declare(system, "Search returns nothing", *SEARCH), declare(system, "CSV upload fails", *CSV)
    report(system, "search is broken for me", "search")
    report(system, "csv upload fails for me", "groups")
    wait_for(lambda: anns(system, "acknowledgement") == sorted([search, csv]), what="both acknowledgements")
    link = link_in_anns_email_about(system, search)
    assert "ann" not in link

    page = fetch(link)
    assert "ann@example.com" in page and "Search returns nothing" in page
    choices = buttons(link, page)
    assert set(choices) == {"Stop emails about this incident", "Stop all emails from us"}

    assert "no more emails about" in fetch(choices["Stop emails about this incident"], post=True)
    system.run("incident", "update", search, "A fix is being tested.")
    system.run("incident", "update", csv, "A fix is being tested.")
    wait_for(lambda: anns(system, "progress") == [csv], what="Ann's update about the other incident")
    wait_for(lambda: "unsubscribed from this incident" in skipped_because(sqlite_url), what="the skipped one")

    assert "no more emails from us" in fetch(choices["Stop all emails from us"], post=True)
    system.run("incident", "resolve", csv, "Uploads work again.")
    wait_for(lambda: "suppressed: unsubscribed" in skipped_because(sqlite_url), what="Ann's resolution skipped")
    assert anns(system, "resolution") == [] and anns(system, "progress") == [csv]
    assert re.search(r"ann@example\.com +Ann +stopped all email on ", system.run("subscribers", csv).output)


def test_forged_and_tampered_links_are_refused_and_change_nothing(system_factory, sqlite_url: str) -> None:
    """Also old-format links: ours offer to stop everything; one made with the development secret is refused."""
    system = system_factory(sqlite_url, unsubscribe_secret=SECRET)
    search = declare(system, "Search returns nothing", *SEARCH)
    report(system, "search is broken for me", "search")
    wait_for(lambda: anns(system, "acknowledgement") == [search], what="Ann's acknowledgement")
    link = link_in_anns_email_about(system, search)
    delivery_id = int(link.split("token=")[1].split(".")[0])
    base = link.split("?")[0]
    forged = f"{base}?token={sign(delivery_id, Scope.EVERYTHING, DEVELOPMENT_SECRET)}"
    widened = link.replace(".incident.", ".all.")
    old_format = f"{base}?token={legacy_token('ann@example.com', SECRET)}"
    assert set(buttons(old_format, fetch(old_format))) == {"Stop all emails from us"}
    for url in (forged, widened, f"{base}?token={legacy_token('ann@example.com', DEVELOPMENT_SECRET)}"):
        for post in (False, True):
            with pytest.raises(HTTPError, match="400"):
                fetch(url, post)
    system.run("incident", "update", search, "A fix is being tested.")
    wait_for(lambda: anns(system, "progress") == [search], what="Ann's update, still sent")
