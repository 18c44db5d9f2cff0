"""The short way for arrays of integers (wire/schemas.py ``_items``) accepts and refuses exactly what jsonschema does."""

import json

from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from broadcaster.wire.schemas import SCHEMA_FILES, schema_text, validator
from tests.unit.test_fuzz_entrances import FUZZ

ITEM = st.one_of(st.integers(-3, 2**63), st.booleans(), st.floats(allow_nan=False), st.none(), st.text(max_size=3),
                 st.just(1.0), st.just(0))


def reference(message_type: str, version: int) -> Draft202012Validator:
    schema = json.loads(schema_text(SCHEMA_FILES[(message_type, version)]))
    return Draft202012Validator(schema, format_checker=FormatChecker())


def problems(checker: Draft202012Validator, document: object) -> list[tuple[str, str]]:
    return sorted((error.json_path, error.message) for error in checker.iter_errors(document))


@FUZZ
@given(ids=st.lists(ITEM, max_size=30) | st.lists(st.integers(1, 10**9), min_size=1, max_size=1001))
def test_announced_delivery_ids_are_judged_as_jsonschema_judges_them(ids: list[object]) -> None:
    document = {"type": "delivery.queued", "version": 1, "delivery_ids": ids}
    assert problems(validator("delivery.queued", 1), document) == problems(reference("delivery.queued", 1), document)


def test_every_schema_still_refuses_what_it_refused() -> None:
    bad = {"type": "delivery.queued", "version": 1, "delivery_ids": [1, True, 0, 2.5, "3"]}
    found = problems(validator("delivery.queued", 1), bad)
    assert found == problems(reference("delivery.queued", 1), bad) and len(found) == 4
    for message_type, version in SCHEMA_FILES:
        assert validator(message_type, version).schema == reference(message_type, version).schema
