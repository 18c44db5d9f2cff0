"""Scores a report against every candidate incident and decides: linked, suggested or unlinked.

Technique (chosen on the corpus in tests/data/linking; see docs/LINKING.md): TF-IDF cosine
similarity over hashed word 1-2-grams and character 3-5-grams (robust to typos), between
the report and each incident's profile — its title, description and match phrases, plus
the reports already confirmed as belonging to it, so an incident gets better at
recognising its reports. Signals a bag of words misses adjust the score: the engineer's
match phrases, quoted error codes, the component, whether the text reports a failure at
all, and time. Scoring many reports at once is one sparse matrix product.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize

from broadcaster.linking.signals import Signals
from broadcaster.linking.text import normalise

N_FEATURES = 2**18


class Outcome(StrEnum):
    LINKED = "linked"
    SUGGESTED = "suggested"
    UNLINKED = "unlinked"


@dataclass(frozen=True)
class Thresholds:
    link: float = 0.20
    suggest: float = 0.08
    margin: float = 0.03


@dataclass(frozen=True)
class Weights:
    char: float = 0.5
    phrase_bonus: float = 0.20
    code_bonus: float = 0.20
    same_component: float = 0.05
    other_component: float = -0.20
    question_factor: float = 0.2
    neutral_factor: float = 0.75
    too_early_factor: float = 0.5
    learned_share: float = 0.5
    rejected_penalty: float = 0.5


@dataclass(frozen=True)
class IncidentProfile:
    incident_id: str
    title: str
    component: str | None = None
    description: str = ""
    phrases: tuple[str, ...] = ()
    declared_at: datetime | None = None
    is_open: bool = True


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


@dataclass
class _Learned:
    sums: dict[str, sparse.csr_matrix] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


def _vectorizer(analyzer: str, ngrams: tuple[int, int]) -> HashingVectorizer:
    return HashingVectorizer(
        analyzer=analyzer, ngram_range=ngrams, n_features=N_FEATURES, alternate_sign=False,
        norm=None, lowercase=False, token_pattern=r"(?u)\b\w+\b",
    )


class Matcher:
    """Holds the candidate incidents; thread-unsafe, one per processor."""

    def __init__(self, thresholds: Thresholds = Thresholds(), weights: Weights = Weights(),
                 backlog_window: timedelta = timedelta(hours=72), learn_refresh_seconds: float = 0.0) -> None:
        """``learn_refresh_seconds``: how stale what was learned may get before profiles are rebuilt.

        0 applies every confirmation before the next decision (the offline evaluation);
        a stream processor linking thousands of reports a second uses a few seconds.
        A change of the incidents themselves always applies at once.
        """
        self.thresholds, self.weights, self.backlog_window = thresholds, weights, backlog_window
        self.learn_refresh_seconds = learn_refresh_seconds
        self._learned_since_refresh = False
        self._refreshed_at = 0.0
        self._words, self._chars = _vectorizer("word", (1, 2)), _vectorizer("char_wb", (3, 5))
        self._profiles: list[IncidentProfile] = []
        self._learned, self._rejected = _Learned(), _Learned()
        self._signals = Signals(weights, backlog_window)
        self._dirty = True

    # -- the candidate set -------------------------------------------------

    def set_incidents(self, profiles: Sequence[IncidentProfile]) -> None:
        self._profiles = list(profiles)
        self._dirty = True

    def forget(self) -> None:
        """Drop everything learned and rejected (before relearning it from the database)."""
        self._learned, self._rejected = _Learned(), _Learned()
        self._dirty = True

    def learn(self, incident_id: str, text: str) -> None:
        """A report confirmed as this incident's (linked automatically or by an engineer)."""
        self.learn_many([(incident_id, text)])

    def learn_many(self, confirmed: Sequence[tuple[str, str]]) -> None:
        """Several (incident id, report text) confirmations, vectorised together."""
        self._remember(self._learned, confirmed)

    def reject(self, incident_id: str, text: str) -> None:
        """An engineer said this report is not about this incident: similar ones score lower."""
        self._remember(self._rejected, [(incident_id, text)])

    def _remember(self, memory: _Learned, items: Sequence[tuple[str, str]]) -> None:
        if items:
            self._remember_vectors(memory, [incident_id for incident_id, _ in items], self._tf([t for _, t in items]))

    def _remember_vectors(self, memory: _Learned, owners: Sequence[str], tf: sparse.csr_matrix) -> None:
        """Add each row of ``tf`` to what is remembered for the incident at the same place in ``owners``."""
        incident_ids = list(dict.fromkeys(owners))
        row_of = {incident_id: row for row, incident_id in enumerate(incident_ids)}
        rows = [row_of[incident_id] for incident_id in owners]
        grouping = sparse.csr_matrix((np.ones(len(owners)), (rows, range(len(owners)))),
                                     shape=(len(incident_ids), len(owners)))
        sums = (grouping @ tf).tocsr()
        counts = np.bincount(rows, minlength=len(incident_ids))
        for row, incident_id in enumerate(incident_ids):
            previous = memory.sums.get(incident_id)
            memory.sums[incident_id] = sums[row] if previous is None else previous + sums[row]
            memory.counts[incident_id] = memory.counts.get(incident_id, 0) + int(counts[row])
        self._learned_since_refresh = True

    @property
    def incident_ids(self) -> list[str]:
        return [p.incident_id for p in self._profiles]

    # -- scoring -----------------------------------------------------------

    def decide(self, report: ReportText) -> Decision:
        return self.decide_many([report])[0]

    def decide_many(self, reports: Sequence[ReportText], *, learn: bool = False) -> list[Decision]:
        """Decide each report; with ``learn``, learn the linked ones from the vectors already made."""
        if not self._profiles or not reports:
            return [Decision(Outcome.UNLINKED, None, 0.0) for _ in reports]
        tf = self._tf([r.text for r in reports])
        decisions = [self._decide(row) for row in self._scores(reports, tf)]
        if learn:
            linked = [(i, d.incident_id) for i, d in enumerate(decisions) if d.outcome is Outcome.LINKED and d.incident_id]
            if linked:
                self._remember_vectors(self._learned, [owner for _, owner in linked], tf[[i for i, _ in linked]])
        return decisions

    def scores(self, reports: Sequence[ReportText]) -> np.ndarray:
        """A (reports × incidents) array of scores."""
        return self._scores(reports, self._tf([r.text for r in reports]))

    def _scores(self, reports: Sequence[ReportText], tf: sparse.csr_matrix) -> np.ndarray:
        self._refresh()
        similarity, rejected = self._similarity(tf)
        similarity -= self.weights.rejected_penalty * rejected
        return np.vstack([similarity[i] + self._signals.adjust(r, similarity[i]) for i, r in enumerate(reports)])

    def _decide(self, row: np.ndarray) -> Decision:
        order = np.argsort(row)[::-1]
        best, score = order[0], float(row[order[0]])
        runner = self._runner_up(order, row)
        clear = runner is None or score - runner[1] >= self.thresholds.margin
        incident_id = self._profiles[best].incident_id
        if score >= self.thresholds.link and clear:
            return Decision(Outcome.LINKED, incident_id, score, runner)
        if score >= self.thresholds.suggest:
            return Decision(Outcome.SUGGESTED, incident_id, score, runner)
        return Decision(Outcome.UNLINKED, None, score, runner)

    def _runner_up(self, order: np.ndarray, row: np.ndarray) -> tuple[str, float] | None:
        """The closest rival; a resolved incident is no rival to an open one (a recurrence)."""
        rivals: Sequence[int] = list(order[1:])
        if self._profiles[order[0]].is_open:
            rivals = [i for i in rivals if self._profiles[i].is_open]
        if len(rivals) == 0:
            return None
        return self._profiles[rivals[0]].incident_id, float(row[rivals[0]])

    # -- vectors -----------------------------------------------------------

    def term_frequencies(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """The matcher's raw features for any texts (used to compare reports with each other)."""
        return self._tf(texts)

    def _tf(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Hashed term frequencies: word 1-2-grams, and character 3-5-grams weighted by ``char``."""
        prepared = [normalise(t) for t in texts]
        return sparse.hstack(
            [self._words.transform(prepared), self.weights.char * self._chars.transform(prepared)], format="csr"
        )

    def _refresh(self) -> None:
        learning_due = (
            self._learned_since_refresh and time.monotonic() - self._refreshed_at >= self.learn_refresh_seconds
        )
        if not (self._dirty or learning_due):
            return
        base = self._tf([_profile_text(p) for p in self._profiles])
        learned, rejected = self._means(self._learned, base.shape[1]), self._means(self._rejected, base.shape[1])
        documents = len(self._profiles) + sum(self._learned.counts.values())
        df = _document_frequency(base) + _document_frequency(learned)
        # Words no incident uses cannot match anything; at full weight they would only dilute the
        # report's similarity (greetings, context), so they get the lowest weight instead of the highest.
        self._idf = np.where(df > 0, np.log((documents + 1) / (df + 1)) + 1.0, 1.0)
        centroid = normalize(self._weighted(base)) + self.weights.learned_share * normalize(self._weighted(learned))
        self._matrix = normalize(centroid).T.tocsr()
        self._rejected_matrix = normalize(self._weighted(rejected)).T.tocsr()
        self._signals.index(self._profiles)
        self._dirty = self._learned_since_refresh = False
        self._refreshed_at = time.monotonic()

    def _weighted(self, tf: sparse.csr_matrix) -> sparse.csr_matrix:
        """TF-IDF: each stored term frequency times its feature's IDF (touches only non-zeros)."""
        weighted = tf.tocsr(copy=True)
        weighted.data = weighted.data * self._idf[weighted.indices]
        return weighted

    def _means(self, memory: _Learned, width: int) -> sparse.csr_matrix:
        """One row per incident: the mean term frequencies of the reports remembered for it."""
        rows = []
        for profile in self._profiles:
            total = memory.sums.get(profile.incident_id)
            rows.append(sparse.csr_matrix((1, width)) if total is None else total / memory.counts[profile.incident_id])
        return sparse.vstack(rows, format="csr")

    def _similarity(self, tf: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """Cosine similarity of each report to each incident profile, and to what was rejected for it."""
        vectors = normalize(self._weighted(tf))
        return (vectors @ self._matrix).toarray(), (vectors @ self._rejected_matrix).toarray()


def _document_frequency(matrix: sparse.csr_matrix) -> np.ndarray:
    matrix = matrix.tocsr()
    matrix.eliminate_zeros()
    return np.bincount(matrix.indices, minlength=matrix.shape[1])


def _profile_text(profile: IncidentProfile) -> str:
    return " ".join([profile.title, profile.description, *profile.phrases])
