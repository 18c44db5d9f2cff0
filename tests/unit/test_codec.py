import json
from datetime import UTC, datetime

import pytest

from broadcaster.domain.events import (
    BugReportReceived,
    IncidentDeclared,
    IncidentNoted,
    IncidentResolved,
    IncidentUpdated,
)
from broadcaster.wire.codec import (
    decode_bug_report,
    decode_incident_event,
    encode_bug_report,
    encode_incident_event,
)
from broadcaster.wire.errors import InvalidMessage

NOW = datetime(2026, 11, 24, 16, 15, tzinfo=UTC)
REPORT = BugReportReceived("r-1", NOW, "eric@example.com", "Eric", "CSV upload fails", "groups", "form")


def test_a_bug_report_survives_the_round_trip() -> None:
    assert decode_bug_report(encode_bug_report(REPORT)) == REPORT


@pytest.mark.parametrize(
    "event",
    [
        IncidentDeclared("e1", "INC-261124-ABCD", NOW, "CSV upload fails", "groups", "sev2", NOW, ("csv",)),
        IncidentUpdated("e2", "INC-261124-ABCD", NOW, "Fix in test", NOW, "identified"),
        IncidentResolved("e3", "INC-261124-ABCD", NOW, "Fixed", "Upload again"),
        IncidentNoted("e4", "INC-261124-ABCD", NOW, "Suspect the new CSV parser; not for customers yet"),
        IncidentNoted("e5", "INC-261124-ABCD", NOW, "Rolling the importer back on every server", shareable=True),
    ],
)
def test_incident_events_survive_the_round_trip(event: object) -> None:
    assert decode_incident_event(encode_incident_event(event)) == event  # type: ignore[arg-type]


def _report_document(**changes: object) -> bytes:
    document = json.loads(encode_bug_report(REPORT))
    document.update(changes)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (_report_document(type="incident.declared"), "does not belong on this topic"),
        (b'{"schema": "bug_report.received", "version": 1}', 'message has no "type" field \\(expected one of'),
        (_report_document(version=2), "unknown message type"),
        (_report_document(text=""), "text"),
        (_report_document(reporter={"email": "no-at-sign", "name": "Eric"}), "reporter/email"),
        (_report_document(received_at="yesterday"), "not an ISO 8601"),
        (_report_document(received_at="2026-11-24T16:15:00"), "no time zone"),
        (None, "no value"),
    ],
)
def test_an_invalid_report_is_rejected_with_a_reason_a_person_can_act_on(raw: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidMessage, match=reason):
        decode_bug_report(raw)


def _note_document(**changes: object) -> bytes:
    document = json.loads(encode_incident_event(IncidentNoted("n1", "INC-261124-ABCD", NOW, "Rolling back")))
    document.update(changes)
    return json.dumps({k: v for k, v in document.items() if v is not None}).encode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (_note_document(message=""), "message: is empty"),
        (_note_document(message=None), "'message' is a required property"),
        (_note_document(message="   "), "message"),
        (_note_document(message="x" * 5001), "message: is longer than 5,000 characters"),
        (_note_document(message="bell \x07 in it"), "message"),
        (_note_document(shareable="yes"), "shareable: must be of type boolean"),
        (_note_document(incident_id="inc 1"), "incident_id"),
    ],
)
def test_an_invalid_note_is_rejected_with_a_reason_a_person_can_act_on(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidMessage, match=reason):
        decode_incident_event(raw)


def test_a_note_without_the_share_flag_is_internal() -> None:
    document = json.loads(_note_document())
    del document["shareable"]
    assert decode_incident_event(json.dumps(document).encode()) == IncidentNoted("n1", "INC-261124-ABCD", NOW,
                                                                                 "Rolling back", shareable=False)


def test_every_schema_file_is_a_valid_json_schema() -> None:
    from jsonschema import Draft202012Validator

    from broadcaster.wire.schemas import SCHEMA_FILES, schema_text

    for filename in SCHEMA_FILES.values():
        Draft202012Validator.check_schema(json.loads(schema_text(filename)))
