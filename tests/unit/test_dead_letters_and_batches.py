"""Dead letters always fit and never leak; a failing batch is split until the culprit is alone."""

import asyncio
import base64
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime

from jsonschema import Draft202012Validator
from sqlalchemy import create_engine, text
from sqlalchemy.exc import StatementError

from broadcaster.wire.dead_letters import MAX_ORIGINAL_BYTES, MAX_REASON_CHARS, DeadLetter, encode_dead_letter
from broadcaster.wire.schemas import schema_text
from streams.handling import bug_reason, in_halves

PRODUCER_LIMIT = 1024 * 1024


def letter(original: bytes, reason: str = "not JSON") -> DeadLetter:
    return DeadLetter(reason, "link-reports", "bug-reports", 0, 7, original, datetime.now(UTC))


def test_a_one_megabyte_original_makes_a_dead_letter_that_fits_and_says_what_was_cut() -> None:
    original = b'{"text": "' + b"\xc3\xa9" * 500_000 + b'"}'
    encoded = encode_dead_letter(letter(original, reason="text: " + "x" * 5_000))
    document = json.loads(encoded)
    assert len(encoded) < PRODUCER_LIMIT / 2
    assert len(document["reason"]) <= MAX_REASON_CHARS and document["reason"].endswith("(5,006 characters)")
    assert document["original_truncated"] is True and document["original_size"] == len(original)
    assert document["original_sha256"] == hashlib.sha256(original).hexdigest()
    assert base64.b64decode(document["original_base64"]) == original[:MAX_ORIGINAL_BYTES]
    Draft202012Validator(json.loads(schema_text("dead-letter.v2.json"))).validate(document)


def test_a_small_original_is_kept_whole_and_once() -> None:
    document = json.loads(encode_dead_letter(letter(b"\x00not json")))
    assert base64.b64decode(document["original_base64"]) == b"\x00not json"
    assert document["original_truncated"] is False and "original_text" not in document


def test_a_bug_reason_names_the_exception_and_place_but_never_sql_parameters() -> None:
    engine = create_engine("sqlite://")
    try:
        with engine.connect() as connection:
            connection.execute(text("select :who"), {"who": object()})  # an unbindable parameter
    except StatementError as error:
        reason = bug_reason(error)
    assert "StatementError" in reason or "ProgrammingError" in reason or "InterfaceError" in reason
    assert "object at" not in reason and "[parameters" not in reason and "select" not in reason.lower()


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_batch_with_one_culprit_processes_every_other_item_and_the_culprit_alone() -> None:
    done: list[int] = []
    alone: list[int] = []
    attempts: list[int] = []

    async def process(items: Sequence[int]) -> list[str]:
        attempts.append(len(items))
        if 13 in items:
            raise ValueError("boom")
        done.extend(items)
        return [f"ok {i}" for i in items]

    async def process_alone(item: int) -> str | None:  # as streams.handling.handle does: try, else dead-letter
        try:
            return (await process([item]))[0]
        except ValueError:
            alone.append(item)
            return None

    results = run(in_halves(list(range(100)), process, process_alone))
    assert sorted(done) == [i for i in range(100) if i != 13] and alone == [13]
    assert results[13] is None and results[12] == "ok 12" and len(results) == 100
    assert len(attempts) <= 2 * 7 + 2  # two halves a level for 7 levels, and the culprit tried alone: not 100


def test_a_batch_that_works_is_processed_once() -> None:
    calls: list[int] = []

    async def process(items: Sequence[int]) -> list[int]:
        calls.append(len(items))
        return list(items)

    async def never(item: int) -> int:
        raise AssertionError("a good batch is not split")

    assert run(in_halves([1, 2, 3], process, never)) == [1, 2, 3] and calls == [3]
