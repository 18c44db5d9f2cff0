"""Scores a report against every candidate incident and decides: linked, suggested or unlinked.

The score of a (report, incident) pair is a probability that the report is about the
incident: a logistic model over the features of :mod:`broadcaster.linking.features`,
fitted on labelled reports (:mod:`broadcaster.linking.training`; the shipped
coefficients and how they were chosen are in ``coefficients.json`` and docs/LINKING.md).
A threshold on it therefore means a precision, measured by cross-validation.

A report is linked only when its best incident is likely enough *and* clearly ahead of
the next one; when two incidents are close, or the best is only plausible, an engineer
decides (a suggestion in ``broadcaster triage``). Reports about another known component
are never candidates, nor incidents declared long after the report was written.
"""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path

import numpy as np
from scipy import sparse

from broadcaster.linking.features import (
    FEATURES,
    LEARNED_PER_INCIDENT,
    N_FEATURES,
    Candidates,
    DocumentFrequencies,
    Evidence,
    Learned,
    Texts,
    idf_of,
    pair_features,
    weighted,
)

COEFFICIENTS = Path(__file__).with_name("coefficients.json")
REJECTED_NEAR = 0.5
REWEIGH_GROWTH = 2.0  # remembered reports are weighed again once the statistics doubled
IDF_DRIFT = 1.02  # incidents are weighed again once the statistics grew by 2%
SAME_REPORT = 0.9  # word cosine from which two remembered reports are one (see newest_distinct)


class Outcome(StrEnum):
    LINKED = "linked"
    SUGGESTED = "suggested"
    UNLINKED = "unlinked"


@dataclass(frozen=True)
class Thresholds:
    """Probabilities: link at ``link`` when ``margin`` ahead of the next incident; suggest at ``suggest``."""

    link: float = 0.70
    suggest: float = 0.15
    margin: float = 0.30


@dataclass(frozen=True)
class Coefficients:
    """A logistic model over :data:`FEATURES`."""

    weights: tuple[float, ...]
    intercept: float

    def probability(self, features: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(features @ np.asarray(self.weights) + self.intercept)))

    @classmethod
    def load(cls, path: Path = COEFFICIENTS) -> "Coefficients":
        stored = json.loads(path.read_text())
        if tuple(stored["features"]) != FEATURES:
            raise ValueError(f"{path} was fitted on features {stored['features']}, not {list(FEATURES)}")
        return cls(tuple(stored["weights"]), stored["intercept"])


@cache
def shipped_coefficients() -> Coefficients:
    return Coefficients.load()


@dataclass(frozen=True)
class IncidentProfile:
    incident_id: str
    title: str
    component: str | None = None
    description: str = ""
    phrases: tuple[str, ...] = ()
    declared_at: datetime | None = None
    is_open: bool = True

    @property
    def text(self) -> str:
        return "\n".join([self.title, self.description, *self.phrases])


@dataclass(frozen=True)
class ReportText:
    text: str
    component: str | None = None
    received_at: datetime | None = None


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    incident_id: str | None
    score: float
    runner_up: tuple[str, float] | None = None


def newest_distinct(rows: sparse.csr_matrix, keep: int = LEARNED_PER_INCIDENT) -> list[int]:
    """Which of ``rows`` (word counts, oldest first) memory holds after remembering them one by one, oldest first.

    Each row pushes out the rows nearly the same as it (word cosine at least
    :data:`SAME_REPORT`), then the oldest beyond ``keep``. Remembering copies would let a
    burst of one wording push every other out of memory, and a report worded another way
    would then only be suggested, never linked (suggestions are not learned), however many
    came: in a flood of four wordings at 1,000 reports a second, one of them was suggested
    from the moment the last 20 links held none of it.
    """
    similar = _cosines(rows) >= SAME_REPORT
    kept: list[int] = []
    for row in range(rows.shape[0]):
        kept = [k for k in kept if not similar[row, k]]
        kept.append(row)
        del kept[:-keep]
    return kept


def _cosines(rows: sparse.csr_matrix) -> np.ndarray:
    """Every pair of rows' cosine, computed on the columns they use: scipy's product of two 2^18-column
    matrices cost 0.9 ms for 21 rows, most of it spent on the columns nobody uses."""
    used, columns = np.unique(rows.indices, return_inverse=True)
    row_of = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
    lengths = np.sqrt(np.bincount(row_of, rows.data**2, minlength=rows.shape[0]))
    unit = sparse.csr_matrix((rows.data / np.where(lengths > 0, lengths, 1.0)[row_of], columns, rows.indptr),
                             shape=(rows.shape[0], used.size))
    return (unit @ unit.T).toarray()


@dataclass
class _Memory:
    """Reports remembered per incident (the newest few distinct ones): raw word counts, and weighted blocks
    ready for products."""

    raw: dict[str, sparse.csr_matrix] = field(default_factory=dict)  # one row a report, oldest first
    blocks: dict[str, sparse.csr_matrix] = field(default_factory=dict)

    def add(self, incident_id: str, texts: Texts, row: int, idf: tuple[np.ndarray, np.ndarray]) -> None:
        self.add_many([(incident_id, row)], texts, idf)

    def add_many(self, items: Sequence[tuple[str, int]], texts: Texts, idf: tuple[np.ndarray, np.ndarray]) -> None:
        """Remember these rows of ``texts``, in order: the same as adding them one by one (see
        :func:`newest_distinct`), but each incident is weighed once."""
        rows: dict[str, list[int]] = {}
        for incident_id, row in items:
            rows.setdefault(incident_id, []).append(row)
        for incident_id, numbers in rows.items():
            known = self.raw.get(incident_id)
            candidates = texts.words[numbers] if known is None else sparse.vstack([known, texts.words[numbers]], format="csr")
            self.raw[incident_id] = candidates[newest_distinct(candidates)]
            self._weigh(incident_id, idf)

    def reweigh(self, idf: tuple[np.ndarray, np.ndarray]) -> None:
        for incident_id in self.raw:
            self._weigh(incident_id, idf)

    def _weigh(self, incident_id: str, idf: tuple[np.ndarray, np.ndarray]) -> None:
        self.blocks[incident_id] = weighted(self.raw[incident_id], idf[1])

    def learned(self, order: Sequence[str]) -> Learned:
        """All remembered rows of the incidents in ``order`` in one matrix, grouped by incident column."""
        chosen = [(column, self.blocks[i]) for column, i in enumerate(order) if i in self.blocks]
        if not chosen:
            return Learned()
        counts = np.array([block.shape[0] for _, block in chosen])
        ends = np.cumsum(counts)
        rows = sparse.vstack([block for _, block in chosen], format="csr")
        return Learned(rows, {column: (int(end - n), int(end)) for (column, _), n, end in zip(chosen, counts, ends, strict=True)})


class Matcher:
    """Holds the candidate incidents and what was learned about them; thread-unsafe, one per processor."""

    _candidates: Candidates  # the incidents weighed for scoring, built by _refresh
    _rejected_reports: Learned

    def __init__(self, thresholds: Thresholds = Thresholds(), coefficients: Coefficients | None = None,
                 backlog_window: timedelta = timedelta(hours=72)) -> None:
        self.thresholds, self.backlog_window = thresholds, backlog_window
        self.coefficients = coefficients or shipped_coefficients()
        self.frequencies = DocumentFrequencies.background()
        self._profiles: list[IncidentProfile] = []
        self._learned, self._rejected = _Memory(), _Memory()
        self._weighed_at_documents = self._idf_documents = 0
        self._memory_changed = False
        self._idf = self.frequencies.idf()
        self._with_incidents = (np.zeros(N_FEATURES), np.zeros(N_FEATURES))
        self.set_incidents([])

    # -- what it knows -----------------------------------------------------

    def set_incidents(self, profiles: Sequence[IncidentProfile]) -> None:
        self._profiles = list(profiles)
        self._incident_texts = Texts.of([p.text for p in self._profiles])
        self._incident_counts = tuple(np.unique(m.indices, return_counts=True)
                                      for m in (self._incident_texts.chars, self._incident_texts.words))
        self._evidence = Evidence.of(self._incident_texts)
        self._open = np.array([p.is_open for p in self._profiles], dtype=bool)
        self._dirty = True

    @property
    def incident_ids(self) -> list[str]:
        return [p.incident_id for p in self._profiles]

    def forget(self) -> None:
        """Drop everything learned and rejected (before relearning it from the database)."""
        self._learned, self._rejected = _Memory(), _Memory()
        self._dirty = True

    def observe(self, texts: Sequence[str]) -> None:
        """Count these reports' words into the document frequencies (what is common, what is telling)."""
        self._observe(Texts.of(texts))

    def _observe(self, texts: Texts) -> None:
        if texts.chars.shape[0]:
            self.frequencies.add(texts.chars, texts.words)
            self._dirty |= self.frequencies.documents >= IDF_DRIFT * self._idf_documents

    def learn(self, incident_id: str, text: str) -> None:
        """A report confirmed as this incident's (linked automatically or by an engineer)."""
        self.learn_many([(incident_id, text)])

    def learn_many(self, confirmed: Sequence[tuple[str, str]]) -> None:
        self._remember(self._learned, confirmed)

    def reject(self, incident_id: str, text: str) -> None:
        """An engineer said this report is not about this incident: similar ones are not linked automatically."""
        self._remember(self._rejected, [(incident_id, text)])

    def _remember(self, memory: _Memory, items: Sequence[tuple[str, str]]) -> None:
        texts = Texts.of([text for _, text in items])
        memory.add_many([(incident_id, row) for row, (incident_id, _) in enumerate(items)], texts, self._idf)
        self._memory_changed = True

    # -- deciding ----------------------------------------------------------

    def decide(self, report: ReportText) -> Decision:
        return self.decide_many([report])[0]

    def decide_many(self, reports: Sequence[ReportText], *, learn: bool = False, observe: bool = True) -> list[Decision]:
        """Decide each report; with ``learn``, learn the linked ones at once.

        With ``observe`` (new reports), their words count into the statistics first; reports
        decided again (the backlog a new incident links) were counted when they arrived.
        """
        decisions, learn_linked = self.decide_and_defer(reports, observe=observe)
        if learn:
            learn_linked()
        return decisions

    def decide_and_defer(self, reports: Sequence[ReportText], *,
                         observe: bool = True) -> tuple[list[Decision], Callable[[], None]]:
        """Decide each report, and return how to learn the linked ones later (after a commit, say)."""
        if not reports:
            return [], lambda: None
        texts = Texts.of([r.text for r in reports])
        if observe:
            self._observe(texts)
        if not self._profiles:
            return [Decision(Outcome.UNLINKED, None, 0.0) for _ in reports], lambda: None
        probabilities, best, rejected_near, near = self._score(reports, texts)
        decisions = [self._decide(row, int(best[r]), rejected_near[r], near[r]) for r, row in enumerate(probabilities)]
        linked = [(row, d.incident_id) for row, d in enumerate(decisions) if d.outcome is Outcome.LINKED and d.incident_id]

        def learn_linked() -> None:  # the vectors already made, not made again
            self._learned.add_many([(incident_id, row) for row, incident_id in linked], texts, self._idf)
            self._memory_changed |= bool(linked)

        return decisions, learn_linked

    def scores(self, reports: Sequence[ReportText]) -> np.ndarray:
        """A (reports × incidents) array of probabilities."""
        return self._score(reports, Texts.of([r.text for r in reports]))[0]

    def features(self, reports: Sequence[ReportText]) -> tuple[np.ndarray, np.ndarray]:
        """(reports × incidents × features) and which pairs are candidates at all: for fitting the model."""
        self._refresh()
        allowed = self._allowed(reports)
        return pair_features(Texts.of([r.text for r in reports]), self._candidates, self._idf, allowed), allowed

    def _score(self, reports: Sequence[ReportText], texts: Texts) -> tuple[np.ndarray, ...]:
        """Probabilities, each report's best incident, and its closeness to rejected and confirmed reports."""
        self._refresh()
        allowed = self._allowed(reports)
        features = pair_features(texts, self._candidates, self._idf, allowed)
        probabilities = np.where(allowed, self.coefficients.probability(features), 0.0)
        near = features[..., FEATURES.index("near")]
        best = np.array([self._best(row) for row in probabilities], dtype=int)
        rejected = self._rejected_reports.nearest(weighted(texts.words, self._idf[1]), best[:, None], len(self._profiles))
        return probabilities, best, rejected, near

    def _allowed(self, reports: Sequence[ReportText]) -> np.ndarray:
        """Which incidents each report may be about: not another known component, not declared long after."""
        components = np.array([(p.component or "").strip().lower() for p in self._profiles])
        declared = np.array([p.declared_at.timestamp() if p.declared_at else np.nan for p in self._profiles])
        allowed = np.ones((len(reports), len(self._profiles)), dtype=bool)
        for r, report in enumerate(reports):
            if report.component:
                allowed[r] &= (components == "") | (components == report.component.strip().lower())
            if report.received_at:
                too_early = declared - self.backlog_window.total_seconds() > report.received_at.timestamp()
                allowed[r] &= ~too_early
        return allowed

    def _best(self, row: np.ndarray) -> int:
        """The most likely incident; an open one nearly as likely as a resolved one wins (a recurrence)."""
        best = int(np.argmax(row))
        if not self._open[best] and self._open.any():
            best_open = int(np.argmax(np.where(self._open, row, -1.0)))
            if row[best_open] >= max(self.thresholds.suggest, row[best] - self.thresholds.margin):
                return best_open
        return best

    def _decide(self, row: np.ndarray, best: int, rejected_near: np.ndarray, near: np.ndarray) -> Decision:
        score = float(row[best])
        runner = self._runner_up(best, row)
        incident_id = self._profiles[best].incident_id
        clear = runner is None or score - runner[1] >= self.thresholds.margin
        like_a_rejected = rejected_near[best] >= max(REJECTED_NEAR, near[best])
        if score >= self.thresholds.link and clear and not like_a_rejected:
            return Decision(Outcome.LINKED, incident_id, score, runner)
        if score >= self.thresholds.suggest:
            return Decision(Outcome.SUGGESTED, incident_id, score, runner)
        return Decision(Outcome.UNLINKED, None, score, runner)

    def _runner_up(self, best: int, row: np.ndarray) -> tuple[str, float] | None:
        """The closest rival; a resolved incident is no rival to an open one (a recurrence)."""
        rivals = np.where(self._open, row, -1.0) if self._open[best] else row.copy()
        rivals[best] = -1.0
        rival = int(np.argmax(rivals))
        if rivals[rival] < 0:
            return None
        return self._profiles[rival].incident_id, float(row[rival])

    # -- weighting ---------------------------------------------------------

    def _refresh(self) -> None:
        """Weigh the incidents afresh (and what was remembered, once the statistics doubled).

        The statistics move a little with every report; the incidents are weighed again once
        they grew by 2%, and the remembered reports are gathered again whenever one was added.
        """
        if not self._dirty:
            if self._memory_changed:
                order = self.incident_ids
                self._candidates = replace(self._candidates, learned=self._learned.learned(order))
                self._rejected_reports = self._rejected.learned(order)
                self._memory_changed = False
            return
        # The statistics with the incidents' own texts counted in, in buffers kept from one refresh to the next
        # (fresh arrays of 2^18 cost more in page faults than in arithmetic).
        documents = self.frequencies.documents + self._incident_texts.chars.shape[0]
        for totals, seen, (features, counts) in zip(self._with_incidents, (self.frequencies.chars, self.frequencies.words),
                                                    self._incident_counts, strict=True):
            np.copyto(totals, seen)
            totals[features] += counts
        self._idf = idf = idf_of(documents, self._with_incidents[0]), idf_of(documents, self._with_incidents[1])
        if documents >= REWEIGH_GROWTH * self._weighed_at_documents:
            self._learned.reweigh(idf)
            self._rejected.reweigh(idf)
            self._weighed_at_documents = documents
        order = self.incident_ids
        self._candidates = Candidates(
            weighted(self._incident_texts.chars, idf[0]).T.tocsr(), weighted(self._incident_texts.words, idf[1]).T.tocsr(),
            weighted(self._incident_texts.title_chars, idf[0]).T.tocsr(), self._evidence, self._learned.learned(order))
        self._rejected_reports = self._rejected.learned(order)
        self._idf_documents = self.frequencies.documents
        self._dirty = self._memory_changed = False
