"""The incident pages over real HTTP on both databases: what a reader sees, following, managing, private pages."""

import socket
from collections.abc import Callable, Iterator
from select import select as readable
from xml.etree import ElementTree

import httpx
import pytest
from sqlalchemy import select

from broadcaster.bootstrap import bootstrap
from broadcaster.config import Settings
from broadcaster.domain.events import UpdatePublished
from broadcaster.domain.notifications import NotificationKind
from broadcaster.kafka.topics import Topics
from broadcaster.services import public_incidents
from broadcaster.storage.database import transaction
from broadcaster.storage.models import OutboxMessage, Subscriber, Suppression
from tests.support.intake import Intake, running_intake
from tests.support.pages import Desk, form_token, link
from tests.support.services import fan_out_all
from tests.support.waiting import wait_for

INCIDENT = "INC-261126-PAGE"


@pytest.fixture
def site(database_url: str, broker: str, settings_factory: Callable[..., Settings],
         topics_on: Callable[[Settings], None]) -> Iterator[tuple[Intake, Desk]]:
    settings = settings_factory(database_url, kafka_bootstrap=broker)
    topics_on(settings)
    with running_intake(settings) as intake:
        desk = Desk(bootstrap(settings))
        desk.declare(INCIDENT, "CSV upload to pre-approved members fails", workaround="Add members one by one.")
        yield intake, desk
        desk.services.engine.dispose()


def browser(intake: Intake) -> httpx.Client:
    return httpx.Client(base_url=intake.url, timeout=30)


def test_the_page_shows_the_incident_and_each_update_within_two_seconds(site) -> None:
    intake, desk = site
    with browser(intake) as client:
        first = client.get(f"/incidents/{INCIDENT}").text
        assert "CSV upload to pre-approved members fails" in first and "Investigating" in first
        assert "Major: an important part of the product is not working" in first
        assert "Add members one by one." in first and "<time datetime=" in first and "by <time" in first
        desk.update(INCIDENT, "A fix is being tested <script>", status="identified")
        wait_for(lambda: "A fix is being tested &lt;script&gt;" in client.get(f"/incidents/{INCIDENT}").text,
                 timeout=2.5, what="the update on the page")
        desk.resolve(INCIDENT, "Uploads work again", "Upload your CSV again.")
        wait_for(lambda: "Upload your CSV again." in client.get(f"/incidents/{INCIDENT}").text, timeout=2.5,
                 what="the resolution on the page")
        resolved = client.get(f"/incidents/{INCIDENT}").text
        assert "Resolved" in resolved and "Email me updates" not in resolved and "Add members" not in resolved
        assert client.get("/incidents/INC-NOPE").status_code == 404


def test_the_list_the_feed_and_the_json_api_show_public_incidents_only(site) -> None:
    intake, desk = site
    desk.declare("INC-261126-PRIV", "Billing exports are late")
    with transaction(desk.services.sessions) as session:
        public_incidents.set_private(session, "INC-261126-PRIV", True)
    with browser(intake) as client:
        index, feed, api = client.get("/").text, client.get("/feed.atom"), client.get("/api/v1/incidents.json")
    assert INCIDENT in index and "Billing" not in index
    entries = ElementTree.fromstring(feed.content).findall("{http://www.w3.org/2005/Atom}entry")
    assert feed.headers["content-type"].startswith("application/atom+xml") and len(entries) == 1
    document = api.json()
    [incident] = document["incidents"]
    assert {"id", "name", "status", "impact", "shortlink", "incident_updates", "created_at", "resolved_at"} <= set(incident)
    assert (incident["id"], incident["status"], incident["impact"]) == (INCIDENT, "investigating", "major")
    assert incident["shortlink"].endswith(f"/incidents/{INCIDENT}") and document["page"]["name"] == "Example"


def test_a_private_page_opens_only_with_the_link_in_the_readers_own_email(site) -> None:
    intake, desk = site
    delivery_id = desk.report("ann@example.com")
    with transaction(desk.services.sessions) as session:
        public_incidents.set_private(session, INCIDENT, True)
    page_link = link(desk.email_text(delivery_id), f"/incidents/{INCIDENT}")
    assert "?token=" in page_link
    with browser(intake) as client:
        wait_for(lambda: client.get(f"/incidents/{INCIDENT}").status_code == 404, timeout=2.5, what="the page to close")
        assert client.get(f"/incidents/{INCIDENT}?token=1.forged").status_code == 404
        opened = client.get(page_link.replace(desk.services.sender.pages_url, ""))
    assert opened.status_code == 200 and "CSV upload" in opened.text and "no-store" in opened.headers["cache-control"]


def test_following_asks_once_for_confirmation_through_the_ledger_and_then_sends_every_update(site) -> None:
    intake, desk = site
    path = f"/incidents/{INCIDENT}"
    with browser(intake) as client:
        token = form_token(client, path)
        answers = [client.post(f"{path}/follow", data={"form_token": token, "name": "Cleo Park",
                                                        "email": "Cleo@Example.com"}) for _ in range(2)]
        forged = httpx.post(f"{intake.url}{path}/follow", data={"form_token": token, "name": "X", "email": "x@example.com"})
        bad = client.post(f"{path}/follow", data={"form_token": token, "name": "Cleo", "email": "not an address"})
        latin1 = client.post(f"{path}/follow", content=f"form_token={token}&name=Jos%E9&email=jose@example.com",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert [a.status_code for a in answers] == [200, 200] and answers[0].text == answers[1].text  # nothing to enumerate
    assert forged.status_code == 403 and "send it again" in forged.text
    assert bad.status_code == 422 and "not an address" not in bad.text and "email" in bad.text
    assert latin1.status_code == 422 and "not UTF-8 text" in latin1.text  # was stored as "Jos\ufffd"
    [confirmation] = desk.deliveries(NotificationKind.FOLLOW_CONFIRMATION)
    with desk.services.sessions() as session:
        topics = set(session.scalars(select(OutboxMessage.topic)))
        assert session.scalars(select(Subscriber.confirmed).where(Subscriber.email == "cleo@example.com")).one() is False
    assert Topics.from_prefix(desk.services.settings.topic_prefix).deliveries in topics
    email = desk.email_text(confirmation)
    assert email.startswith("Hi Cleo,") and "we hope you" in email
    confirm = link(email, "/follow/confirm").replace(desk.services.sender.pages_url, "")
    with browser(intake) as client:
        question = client.get(confirm)
        assert question.status_code == 200 and "Yes, email me updates" in question.text
        done = client.post("/follow/confirm", data={"form_token": form_token(client, confirm),
                                                    "token": confirm.split("token=")[1]})
    assert done.status_code == 200 and "You will get every update" in done.text
    desk.update(INCIDENT, "A fix is being tested")
    with desk.services.sessions() as session:
        incident = public_incidents.incident(session, INCIDENT)
        latest, now = max(u.id for u in incident.updates), incident.updated_at
    [to_cleo] = fan_out_all(desk.services.sessions, UpdatePublished(INCIDENT, latest), now)  # the one confirmed follower
    progress = desk.email_text(to_cleo)
    assert "asked us to keep you posted" in progress and "you reported" not in progress
    assert f"/incidents/{INCIDENT}" in progress and "/manage?token=" in progress


def test_follow_requests_from_one_address_are_rate_limited(site) -> None:
    intake, _ = site
    path = f"/incidents/{INCIDENT}"
    with browser(intake) as client:
        token = form_token(client, path)
        codes = [client.post(f"{path}/follow", data={"form_token": token, "name": "N", "email": f"p{i}@example.com"}
                             ).status_code for i in range(6)]
    assert codes == [200] * 5 + [429]


def test_the_manage_page_stops_and_resumes_one_incident_or_everything(site) -> None:
    intake, desk = site
    manage = link(desk.email_text(desk.report("ann@example.com")), "/manage").replace(desk.services.sender.pages_url, "")
    token = manage.split("token=")[1]

    def press(client: httpx.Client, action: str) -> str:
        answer = client.post("/manage", data={"form_token": form_token(client, manage), "token": token,
                                              "action": action})
        assert answer.status_code == 200, answer.text
        return answer.text

    def state() -> tuple[bool, bool]:
        with desk.services.sessions() as session:
            left = session.scalars(select(Subscriber.unsubscribed_at).where(Subscriber.email == "ann@example.com")).one()
            return left is not None, session.get(Suppression, "ann@example.com") is not None

    with browser(intake) as client:
        assert "Stop emails about this incident" in client.get(manage).text
        assert "no more emails about this incident" in press(client, "stop-incident") and state() == (True, False)
        assert "this incident&#39;s updates again" in press(client, "resume-incident") and state() == (False, False)
        assert "Email me again" in press(client, "stop-all") and state() == (False, True)
        assert "our emails again" in press(client, "resume-all") and state() == (False, False)
        assert client.get("/manage?token=1.incident.forged").status_code == 400


def test_incident_visibility_command_and_declaring_private_close_the_page(site) -> None:
    from click.testing import CliRunner

    from broadcaster.cli.main import cli
    from broadcaster.wire.codec import decode_incident_event, encode_incident_event
    from tests.support.pages import declared_event

    intake, desk = site
    env = {"BROADCASTER_DATABASE_URL": desk.services.settings.database_url}
    made = CliRunner().invoke(cli, ["incident", "visibility", INCIDENT, "private"], env=env)
    assert made.exit_code == 0 and "is now private" in made.output
    assert CliRunner().invoke(cli, ["incident", "visibility", "INC-NOPE", "public"], env=env).exit_code == 1
    with browser(intake) as client:
        wait_for(lambda: client.get(f"/incidents/{INCIDENT}").status_code == 404, timeout=2.5, what="the page to close")
    event = declared_event("INC-261126-SECRET", private=True)
    assert decode_incident_event(encode_incident_event(event)).private is True
    desk.apply(event)
    with browser(intake) as client:
        assert client.get("/incidents/INC-261126-SECRET").status_code == 404


def test_a_form_post_that_never_ends_is_refused_once_it_passes_the_limit_not_read_whole(site) -> None:
    """The forms were read whole before their 8 KB limit was checked: a 400 MB post took the serve process
    (which also takes the reports) from 107 MB to 924 MB. Sent chunked, with no length to refuse up front."""
    intake, _ = site
    host, port = intake.url.removeprefix("http://").split(":")
    chunk = b"%x\r\n%s\r\n" % (65536, b"a" * 65536)
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(b"POST /manage HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n")
        while sent < 64 * 1024 * 1024 and not readable([connection], [], [], 0)[0]:
            connection.sendall(chunk)
            sent += len(chunk)
        answer = connection.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 8 * 1024 * 1024, sent  # answered long before the 64 MB were sent


def test_uptime_monitors_asking_head_get_the_pages_headers_without_a_body(site) -> None:
    """HEAD was answered 405, so a monitor that asks it saw every page down."""
    intake, _ = site
    with browser(intake) as client:
        for path in ("/", f"/incidents/{INCIDENT}", "/feed.atom", "/api/v1/incidents.json", "/health/live"):
            got, head = client.get(path), client.head(path)
            assert (head.status_code, head.content) == (200, b""), path
            assert head.headers["content-type"] == got.headers["content-type"], path
