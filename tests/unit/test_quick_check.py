"""The quick check (wire/quick_check.py) never passes what jsonschema refuses, and passes the common message."""

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from broadcaster.domain.events import BugReportReceived, DeliveriesQueued
from broadcaster.wire.codec import encode_bug_report, encode_deliveries_queued
from broadcaster.wire.schemas import SCHEMA_FILES, quick, schema_text
from tests.unit.test_fuzz_entrances import FUZZ

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 2**40) | st.floats(allow_nan=True) | st.text(max_size=80)
    | st.sampled_from(["bug_report.received", "2026-11-26T05:15:00+00:00", "2026-13-40", "a@example.com", "", "x" * 70]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=8)
REPORT = json.loads(encode_bug_report(BugReportReceived(
    "r-1", datetime(2026, 11, 26, 5, 15, tzinfo=UTC), "ana@example.com", "Ana Lima", "CSV upload fails", "csv", "api")))
FIELDS = [*REPORT, "reporter.email", "reporter.name", "time_zone", "locale", "extra"]


def reference(message_type: str, version: int) -> Draft202012Validator:
    schema = json.loads(schema_text(SCHEMA_FILES[(message_type, version)]))
    return Draft202012Validator(schema, format_checker=FormatChecker())


def changed(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(document))
    *parents, last = path.split(".")
    target = copy
    for parent in parents:
        target = target.get(parent) if isinstance(target, dict) else None
    if not isinstance(target, dict):  # an earlier edit replaced or dropped the parent
        return copy
    if value is _DROP:
        target.pop(last, None)
    else:
        target[last] = value
    return copy


_DROP = object()


@FUZZ
@given(edits=st.lists(st.tuples(st.sampled_from(FIELDS), VALUES | st.just(_DROP)), max_size=3))
def test_a_report_the_quick_check_passes_is_one_jsonschema_accepts(edits: list[tuple[str, Any]]) -> None:
    document = REPORT
    for path, value in edits:
        document = changed(document, path, value)
    check = quick("bug_report.received", 1)
    assert check is not None
    if check(document):
        assert reference("bug_report.received", 1).is_valid(document), document


@FUZZ
@given(document=VALUES)
def test_no_schema_s_quick_check_passes_what_jsonschema_refuses(document: Any) -> None:
    for message_type, version in SCHEMA_FILES:
        check = quick(message_type, version)
        if check is not None and check(document):
            assert reference(message_type, version).is_valid(document)


IDS = st.lists(st.one_of(st.integers(-3, 2**63), st.booleans(), st.floats(allow_nan=False), st.none(),
                         st.text(max_size=3), st.just(1.0), st.just(0)), max_size=30)


@FUZZ
@given(ids=IDS | st.lists(st.integers(1, 10**9), min_size=1, max_size=1001))
def test_announced_delivery_ids_pass_quickly_only_when_jsonschema_accepts_them(ids: list[object]) -> None:
    document = {"type": "delivery.queued", "version": 1, "delivery_ids": ids}
    plain = 1 <= len(ids) <= 1000 and all(type(i) is int and i >= 1 for i in ids)
    assert quick("delivery.queued", 1)(document) == plain  # type: ignore[misc]
    if plain:
        assert reference("delivery.queued", 1).is_valid(document)


def test_the_common_messages_take_the_quick_way() -> None:
    assert quick("bug_report.received", 1)(REPORT)  # type: ignore[misc]
    assert quick("delivery.queued", 1)(json.loads(encode_deliveries_queued(DeliveriesQueued((1, 2, 3)))))  # type: ignore[misc]
    assert not quick("bug_report.received", 1)(changed(REPORT, "version", True))  # type: ignore[misc]
    assert not quick("bug_report.received", 1)(changed(REPORT, "reporter.email", "not an address"))  # type: ignore[misc]


def test_each_limit_of_the_report_schema_sends_the_report_to_jsonschema() -> None:
    check, full = quick("bug_report.received", 1), reference("bug_report.received", 1)
    assert check is not None
    for path, value in [("report_id", "x" * 65), ("text", ""), ("reporter.name", ""), ("component", 5),
                        ("type", "incident.declared"), ("version", 1.0),
                        ("reporter", "ana@example.com"), ("text", _DROP), ("locale", "x" * 36)]:
        document = changed(REPORT, path, value)
        assert not check(document), path
        assert full.is_valid(document) == (path == "version"), path  # 1.0 is an integer to JSON Schema
