"""The matcher's speed-ups give exactly what the plain computations give (issue 17: same decisions, faster)."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import sparse

from broadcaster.linking.features import (
    CHARS,
    LEARNED_PER_INCIDENT,
    N_FEATURES,
    DocumentFrequencies,
    Texts,
    char_counts,
    count_into,
    first_line,
    idf_of,
    weighted,
)
from broadcaster.linking.matcher import Matcher, ReportText, _Memory
from broadcaster.linking.text import _NAMED_CODE, _NUMBERED_CODE, _SIGNATURE, normalise, signatures

REAL = Path(__file__).parents[1] / "data" / "linking_real" / "dev" / "reports.jsonl"


def real_texts(count: int) -> list[str]:
    with REAL.open() as lines:
        return [json.loads(line)["text"] for _, line in zip(range(count), lines, strict=False)]


def identical(a: sparse.csr_matrix, b: sparse.csr_matrix) -> bool:
    return (a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a.indptr, b.indptr)
            and np.array_equal(a.indices, b.indices) and np.array_equal(a.data, b.data))


@pytest.mark.parametrize("texts", [
    ["search returns nothing", "the export is empty"],  # every one its own title
    ["Export fails\nwith error 500", "upload is slow"],  # one of each
    ["Export fails\nwith error 500", "Login broken\nsince today"],  # none
], ids=["one-line", "mixed", "multi-line"])
def test_title_counts_are_those_of_the_titles_alone(texts: list[str]) -> None:
    counted = Texts.of(texts)
    assert identical(counted.title_chars, CHARS.transform([normalise(first_line(t)) for t in texts]))
    assert counted.title_chars is not counted.chars  # a copy: neither can change the other


def test_title_counts_on_real_reports_are_those_of_the_titles_alone() -> None:
    texts = [*real_texts(40), "one line", "  padded line  "]
    assert identical(Texts.of(texts).title_chars, CHARS.transform([normalise(first_line(t)) for t in texts]))


def test_character_counts_made_from_kept_words_are_the_vectorisers_on_every_real_report() -> None:
    texts = []
    for corpus in (REAL, REAL.parents[1] / "holdout" / "reports.jsonl", REAL.parents[2] / "linking" / "reports.jsonl"):
        with corpus.open() as lines:
            texts += [json.loads(line)["text"] for line in lines]
    for prepared in (texts, [normalise(t) for t in texts]):
        assert identical(char_counts(prepared), CHARS.transform(prepared))  # words new to the store
        assert identical(char_counts(prepared), CHARS.transform(prepared))  # the same words, kept


@given(st.lists(st.text(st.characters(categories=["L", "N", "P", "Zs", "Cc"]) | st.sampled_from(" \t\n\u2003\x1c"),
                        max_size=60), max_size=6))
def test_character_counts_made_from_kept_words_are_the_vectorisers_on_any_text(texts: list[str]) -> None:
    if texts:  # the vectoriser cannot transform nothing (Texts.of handles that before)
        assert identical(char_counts(texts), CHARS.transform(texts))


@given(st.lists(st.sampled_from(["Error", "error", "Exception", "Fault", "::", "0x", "_", "ERR", "_UPLOAD", "413",
                                  "500", "5", "0", "٥٠٠", "a", "Z", " ", ":", "-", "x", "ff00aa", "status"]),
                max_size=12).map("".join))
def test_signatures_are_what_the_plain_searches_find(text: str) -> None:
    codes = set(_NAMED_CODE.findall(text)) | {first or second for first, second in _NUMBERED_CODE.findall(text)}
    assert signatures(text) == frozenset(m.lower() for m in _SIGNATURE.findall(text)) | codes


def test_counting_and_weighing_give_the_numbers_of_the_plain_formulas() -> None:
    texts = Texts.of(real_texts(30))
    plain = DocumentFrequencies.background()
    plain.chars += np.bincount(texts.chars.indices, minlength=N_FEATURES)
    plain.documents += texts.chars.shape[0]
    counted = DocumentFrequencies.background()
    counted.add(texts.chars, texts.words)
    assert np.array_equal(counted.chars, plain.chars) and counted.documents == plain.documents
    n = counted.documents + 1
    assert np.array_equal(idf_of(counted.documents, counted.chars), np.log(n / (counted.chars + 1)) + 1.0)
    totals = np.zeros(N_FEATURES)
    count_into(totals, np.array([3, 3, 7], dtype=np.int32))
    assert totals[3] == 2 and totals[7] == 1 and totals.sum() == 3


def remembered_one_by_one(texts: Texts, rows: list[int]) -> sparse.csr_matrix:
    """The memory's rule in plain words: each report pushes out those with a word cosine of 0.9 or more to it,
    then the oldest beyond the limit."""
    dense = texts.words.toarray()
    kept: list[int] = []
    for row in rows:
        kept = [k for k in kept if dense[row] @ dense[k] / np.sqrt((dense[row] @ dense[row]) * (dense[k] @ dense[k])) < 0.9]
        kept = [*kept, row][-LEARNED_PER_INCIDENT:]
    return texts.words[kept]


def test_a_batch_is_remembered_as_its_reports_one_by_one_without_near_copies() -> None:
    originals = real_texts(3 * LEARNED_PER_INCIDENT)
    copies = [f"{text} (again)" for text in originals[::4]]  # nearly the same: they push out the original
    texts = Texts.of([*originals[:30], *copies, *originals[30:], *originals[:5]])  # and exact copies
    idf = DocumentFrequencies.background().idf()
    items = [("INC-1" if row % 3 else "INC-2", row) for row in range(texts.words.shape[0])]
    memory = _Memory()
    memory.add_many(items, texts, idf)
    assert memory.raw.keys() == {"INC-1", "INC-2"}
    for incident_id in memory.raw:
        expected = remembered_one_by_one(texts, [row for i, row in items if i == incident_id])
        assert identical(memory.raw[incident_id], expected)
        assert identical(memory.blocks[incident_id], weighted(expected, idf[1]))


def test_decisions_in_batches_with_learning_match_deciding_one_by_one_from_the_same_state() -> None:
    """Learning a batch at once leaves the matcher as learning its reports in turn would (the same next scores)."""
    from broadcaster.linking.evaluation import load_incidents

    incidents = load_incidents(REAL.with_name("incidents.jsonl"))
    reports = [ReportText(t) for t in real_texts(60)]
    batched, single = Matcher(), Matcher()
    for matcher in (batched, single):
        matcher.set_incidents(incidents)
    batched.decide_many(reports[:40], learn=True)
    decisions, _ = single.decide_and_defer(reports[:40])
    for decision, report in zip(decisions, reports[:40], strict=True):
        if decision.outcome.value == "linked" and decision.incident_id:
            single._learned.add(decision.incident_id, Texts.of([report.text]), 0, single._idf)
    single._memory_changed = True
    assert np.array_equal(batched.scores(reports[40:]), single.scores(reports[40:]))
