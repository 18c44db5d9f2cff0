"""The local SendGrid server must refuse what the real API refuses, or the tests built on it prove nothing.

Every request here goes over loopback HTTP to the real server; bodies are checked against
SendGrid's published ``PostMailSend`` schema (../shared/sendgrid/tsg_mail_v3.json).
"""

import json
import string
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from broadcaster.domain.email import OutgoingEmail
from broadcaster.mail.sendgrid_api import request_body
from broadcaster.messages.compose import compose_group, compose_owner_reminder
from tests.support.sendgrid_rules import request_schema
from tests.support.sendgrid_server import INVALID_GRANT, MAX_BODY_BYTES, UNVERIFIED_SENDER, SandboxServer, SandboxState
from tests.unit.test_compose import FACTS, RESOLVED, SENDER

KEY = "test-key"


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    started = SandboxServer(SandboxState(KEY)).start_in_background()
    yield started
    started.shutdown()
    started.server_close()


@pytest.fixture
def state(server: SandboxServer) -> SandboxState:
    """A fresh account for each test, on the module's server."""
    server.state = SandboxState(KEY)
    return server.state


def post(server: SandboxServer, body: Any, key: str | None = KEY, content_type: str = "application/json") -> tuple[int, Any]:
    """POST ``body`` (JSON, or raw bytes) as the sendgrid client would: (status, decoded answer or None)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": content_type} | ({"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urlopen(Request(f"{server.url}/v3/mail/send", data=data, headers=headers), timeout=30) as answer:
            return answer.status, None
    except HTTPError as refused:
        return refused.code, json.loads(refused.read())


def fields(answer: Any) -> list[str | None]:
    return [e["field"] for e in answer["errors"]]


def message(*personalizations: dict, **extra: Any) -> dict:
    return {"personalizations": list(personalizations), "from": {"email": "support@example.com", "name": "Support"},
            "subject": "Hello", "content": [{"type": "text/plain", "value": "Hi"}, {"type": "text/html", "value": "<p>Hi"}],
            **extra}


def to(address: str, **extra: Any) -> dict:
    return {"to": [{"email": address}], **extra}


def people(count: int) -> list[dict]:
    return [to(f"user{n}@example.com") for n in range(count)]


NAMES = ["Olsen, Eric", 'Ann "Annie"; Lee', "Zoë Łukasiewicz", "李小龍", "O'Brien (ops)", "Maz Ahmed", "eve@example.com"]


def fan_out() -> list[OutgoingEmail]:
    group = [replace(RESOLVED, delivery_id=n, to_email=f"user{n}@example.com", to_name=name, update_key="u-7")
             for n, name in enumerate(NAMES, start=1)]
    return compose_group(group, SENDER)


BROADCASTER_BATCHES = {
    "fan-out with substitutions": fan_out(),
    "one acknowledgement": compose_group([FACTS], SENDER),
    "one email without shared content": [compose_owner_reminder(
        "INC-1", "Search, the index", "owner@example.com", FACTS.update_at, "2h", SENDER)],
}


@pytest.mark.parametrize("batch", BROADCASTER_BATCHES.values(), ids=BROADCASTER_BATCHES.keys())
def test_every_body_broadcaster_sends_fits_sendgrids_schema_and_is_accepted(server, state, batch) -> None:
    body = request_body(batch, "support@example.com", "Example Support; Team")
    assert [e.message for e in request_schema().iter_errors(body)] == []
    assert post(server, body) == (202, None)
    assert state.recipients() == [e.to_email for e in batch]


def test_a_bad_501st_recipient_is_named_by_its_field(server, state) -> None:
    batch = people(1000)
    batch[500] = to("user500@example")
    status, answer = post(server, message(*batch))
    assert status == 400 and answer == {"errors": [
        {"message": "Does not contain a valid address.", "field": "personalizations.500.to.0.email", "help": None}]}
    assert state.rejected == 1 and state.accepted == []


@pytest.mark.parametrize("address", ["zoë@example.com", "a..b@example.com", "Eric <eric@example.com>",
                                     '"a b"@example.com', "a@[127.0.0.1]", "a@example.test", "eric@example.com,x@y.com"])
def test_addresses_are_checked_as_sendgrid_checks_them(server, state, address) -> None:
    assert fields(post(server, message(to("ok@example.com"), to(address)))[1]) == ["personalizations.1.to.0.email"]


def test_the_sender_and_refused_addresses_are_named(server, state) -> None:
    state.refused_addresses = {"Blocked@Example.com"}
    body = message(to("ok@example.com"), to("blocked@example.com"))
    body["from"]["email"] = "support@"
    assert fields(post(server, body)[1]) == ["from.email", "personalizations.1.to.0.email"]


def test_at_most_1000_personalizations_and_1000_recipients(server, state) -> None:
    assert fields(post(server, message(*people(1001)))[1]) == ["personalizations"]
    with_copies = [to(f"u{n}@example.com", cc=[{"email": f"c{n}@example.com"}]) for n in range(500)]
    assert post(server, message(*with_copies)) == (202, None)
    with_copies[0]["bcc"] = [{"email": "one-too-many@example.com"}]
    assert fields(post(server, message(*with_copies))[1]) == ["personalizations"]


def test_each_address_once_per_request_whatever_its_case_or_role(server, state) -> None:
    body = message(to("ann@example.com"), to("bob@example.com", cc=[{"email": "ANN@example.com"}]))
    assert fields(post(server, body)[1]) == ["personalizations.1.cc.0.email"]


def test_names_with_unquoted_commas_or_semicolons_are_refused(server, state) -> None:
    body = message(to("ann@example.com"), {"to": [{"email": "jane@example.com", "name": "Doe, Jane"}]})
    body["from"]["name"] = "Support; Team"
    assert fields(post(server, body)[1]) == ["from.name", "personalizations.1.to.0.name"]
    body["from"]["name"] = '"Support; Team"'
    body["personalizations"][1]["to"][0]["name"] = '"Doe, \\"JD\\" Jane"'
    assert post(server, body) == (202, None)


@pytest.mark.parametrize("header", ["To", "from", "Subject", "Reply-To", "CC", "bcc", "x-sg-id", "X-SG-EID",
                                    "Received", "DKIM-Signature", "content-type", "Content-Transfer-Encoding"])
def test_reserved_headers_are_refused_in_any_case(server, state, header) -> None:
    assert fields(post(server, message(to("a@example.com"), headers={header: "x"}))[1]) == [f"headers.{header}"]
    personal = to("a@example.com", headers={header: "x"})
    assert fields(post(server, message(personal))[1]) == [f"personalizations.0.headers.{header}"]


def test_header_substitution_and_custom_args_values_must_be_strings(server, state) -> None:
    body = message(to("a@example.com", substitutions={"-name-": 7}), to("b@example.com", custom_args={"delivery_id": 2}),
                   to("c@example.com", headers={"X-Count": 3}), headers={"X-Incident": None})
    status, answer = post(server, body)
    assert status == 400 and fields(answer) == ["personalizations.0.substitutions.-name-"]  # the schema says so first
    del body["personalizations"][0]["substitutions"]
    assert fields(post(server, body)[1]) == ["headers.X-Incident", "personalizations.1.custom_args.delivery_id",
                                             "personalizations.2.headers.X-Count"]


def test_substitutions_and_custom_args_stay_within_10000_bytes(server, state) -> None:
    big = {f"-tag{n}-": "é" * 1000 for n in range(5)}  # 2 bytes a character: over 10,000 bytes
    assert fields(post(server, message(*people(3), to("d@example.com", substitutions=big)))[1]) == [
        "personalizations.3.substitutions"]
    assert fields(post(server, message(to("a@example.com", custom_args={"note": "x" * 10_000})))[1]) == [
        "personalizations.0.custom_args"]
    just_fits = {"-tag-": "x" * (10_000 - len("-tag-"))}
    assert post(server, message(to("a@example.com", substitutions=just_fits))) == (202, None)


def test_a_sender_a_subject_and_content_text_plain_first(server, state) -> None:
    body = message(to("a@example.com"))
    del body["from"], body["subject"]
    body["content"] = [{"type": "text/html", "value": ""}, {"type": "text/plain", "value": "Hi"}]
    status, answer = post(server, body)
    assert status == 400 and fields(answer) == ["content.0.value", "from"]  # the schema's errors, alone
    body["from"], body["content"][0]["value"] = {"email": "support@example.com"}, "<p>Hi"
    assert fields(post(server, body)[1]) == ["subject", "content.1.type"]
    body["content"] = []
    assert fields(post(server, body)[1]) == ["subject", "content"]


def test_a_body_that_is_not_json_is_about_the_whole_request(server, state) -> None:
    assert post(server, b'{"personalizations": [') == (400, {"errors": [
        {"message": "Bad Request", "field": None, "help": None}]})


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=utf-8"])
def test_a_body_sent_as_anything_but_application_json_is_415(server, state, content_type) -> None:
    """PostMailSend's only media type; SendGrid's own C# client drops the charset parameter for this reason."""
    status, _ = post(server, message(to("ana@example.com")), content_type=content_type)
    assert status == 415 and state.recipients() == []


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_a_missing_or_wrong_key_is_401(server, state, key) -> None:
    assert post(server, message(to("a@example.com")), key=key) == (401, {"errors": [
        {"field": None, "message": INVALID_GRANT, "help": None}]})


def test_a_key_without_the_mail_send_scope_is_403(server, state) -> None:
    state.key_scopes = {"alerts.read"}
    assert post(server, message(to("a@example.com"))) == (403, {"errors": [
        {"message": "access forbidden", "field": None, "help": None}]})


def test_only_verified_senders_may_send_once_senders_are_configured(server, state) -> None:
    state.verified_senders = {"Support@Example.com"}
    assert post(server, message(to("a@example.com"))) == (202, None)
    body = message(to("a@example.com"))
    body["from"]["email"] = "noreply@example.com"
    assert post(server, body) == (403, {"errors": [{"message": UNVERIFIED_SENDER, "field": "from", "help": None}]})


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_account_refuses_every_request_until_it_works_again(server, state, status) -> None:
    state.account_status = status
    assert [post(server, message(to(f"a{n}@example.com")))[0] for n in range(3)] == [status] * 3
    state.account_status = None
    assert post(server, message(to("a@example.com"))) == (202, None)
    assert state.requests == 4 and len(state.accepted) == 1


def test_a_body_over_30_mb_is_413(server, state) -> None:
    body = json.dumps(message(to("a@example.com"))).encode()
    oversized = body[:-1] + b', "padding": "' + b"x" * (MAX_BODY_BYTES - len(body)) + b'"}'
    assert len(oversized) > MAX_BODY_BYTES
    assert post(server, oversized) == (413, {"errors": [{"message": "content too large", "field": None, "help": None}]})
    assert state.accepted == []


# Generated requests: mostly valid parts (seven draws in eight), mixed with what SendGrid refuses.
def mostly(good: st.SearchStrategy, bad: st.SearchStrategy) -> st.SearchStrategy:
    return st.sampled_from([good] * 7 + [bad]).flatmap(lambda chosen: chosen)


ADDRESSES = mostly(
    st.one_of(st.builds("{}@{}".format, st.text("abcdefghij", min_size=1, max_size=6),
                        st.sampled_from(["example.com", "Example.ORG", "mail.example.co.uk"])),
              st.sampled_from(["d.e+tag@example.com", "O'Brien@example.com", "ann@exämple.com"])),
    st.sampled_from(["zoë@example.com", "a@b", "nope", "", "x@example.test", "a..b@example.com", "Ann <a@example.com>"]))
PERSON_NAMES = mostly(st.sampled_from(["Ann", '"Doe, Jane"', '"A \\"B\\"; C"', "Zoë", ""]),
                      st.sampled_from(["Doe, Jane", "A; B", '"unclosed, quote']))
STRINGS = st.one_of(st.sampled_from(["x", "-name-"]), st.text(min_size=1, max_size=12))
KEYS = st.one_of(st.sampled_from(["-name-", "delivery_id", "é"]), st.text(string.ascii_letters + "-_", max_size=8))
VALUES = mostly(STRINGS, st.one_of(st.just(""), st.integers(), st.none(), st.booleans()))
HEADERS = st.dictionaries(mostly(st.sampled_from(["X-Incident", "List-Unsubscribe"]),
                                 st.sampled_from(["To", "content-type", "X-SG-ID"])), VALUES, max_size=2)
PERSON = st.fixed_dictionaries({"email": ADDRESSES}, optional={"name": PERSON_NAMES})
PERSONALIZATION = st.fixed_dictionaries(
    {"to": mostly(st.lists(PERSON, min_size=1, max_size=2), st.just([]))},
    optional={"cc": st.lists(PERSON, max_size=1), "headers": HEADERS, "subject": mostly(STRINGS, st.just("")),
              "substitutions": st.dictionaries(KEYS, VALUES, max_size=2),
              "custom_args": st.dictionaries(KEYS, VALUES, max_size=2)})
CONTENT = mostly(st.just([{"type": "text/plain", "value": "Hi -name-"}, {"type": "text/html", "value": "<p>Hi"}]),
                 st.lists(st.fixed_dictionaries({"type": st.sampled_from(["text/plain", "text/html", "text/calendar", ""]),
                                                 "value": st.one_of(STRINGS, st.just(""))}), max_size=3))
BODIES = st.fixed_dictionaries(
    {"personalizations": mostly(st.lists(PERSONALIZATION, min_size=1, max_size=3), st.just([])),
     "from": mostly(PERSON, st.just({"name": "no address"})), "subject": mostly(STRINGS, st.just("")), "content": CONTENT},
    optional={"headers": HEADERS, "custom_args": st.one_of(STRINGS, st.dictionaries(KEYS, STRINGS, max_size=1)),
              "categories": st.lists(STRINGS, max_size=2), "send_at": st.one_of(st.integers(), STRINGS),
              "reply_to": PERSON})
GENERATED = settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def resolves(body: Any, field: str) -> bool:
    """Whether the dotted ``field`` (or, for a missing property, its parent) exists in ``body``."""
    node = body
    for part in field.split(".")[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.get(part)
        if node is None:
            return False
    return True


@GENERATED
@given(BODIES)
def test_every_body_the_server_accepts_fits_sendgrids_schema(server, body) -> None:
    server.state = SandboxState(KEY)
    status, answer = post(server, body)
    assert status in (202, 400)
    if status == 400:  # SendGrid's error shape, each field pointing into the body
        assert answer["errors"] and all(set(e) == {"message", "field", "help"} for e in answer["errors"])
        assert all(e["field"] is None or resolves(body, e["field"]) for e in answer["errors"])
        return
    assert [e.message for e in request_schema().iter_errors(body)] == []
    addresses = [p["email"].lower() for item in body["personalizations"] for kind in ("to", "cc") for p in item.get(kind, [])]
    assert addresses and len(set(addresses)) == len(addresses) <= 1000
    assert all(p["to"] for p in body["personalizations"]) and body["content"]
    assert "subject" in body or all("subject" in p for p in body["personalizations"])
    headers = [body.get("headers", {}), *(p.get("headers", {}) for p in body["personalizations"])]
    assert all(isinstance(v, str) and k.lower() not in {"to", "content-type", "x-sg-id"} for h in headers for k, v in h.items())


def test_the_generated_bodies_include_ones_the_server_accepts(server, state) -> None:
    """Else the property above would hold for want of an accepted body."""
    first_found = settings(derandomize=True, database=None, phases=[Phase.generate])
    accepted = find(BODIES, lambda body: post(server, body)[0] == 202, settings=first_found)
    assert accepted["personalizations"]
