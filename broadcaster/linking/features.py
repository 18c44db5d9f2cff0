"""What the matcher knows about a (report, incident) pair, as numbers: the features it scores.

Every feature was kept because it separated real duplicates from other reports of the
same product in the real corpus (tests/data/linking_real, docs/LINKING.md):

- ``text``, ``words``: TF-IDF cosine of the report and the incident's declared text
  (title, description, match phrases), over character 3-5-grams (typos, inflections)
  and word 1-2-grams; match phrases count only through this (a feature of their own
  earned a negative weight: reports of other problems use the same words);
- ``title``: the report's first line against the incident's title, in characters;
- ``near``: word cosine to the closest report already confirmed for the incident
  (reports of one fault quote the same error, the same steps), for the few incidents
  the report's text is closest to;
- ``signature``: error signatures both quote (codes, exception names, ``Module::Name``);
- ``versions``: +1 when both name the same version number, -1 when both name versions
  and none agree, 0 otherwise;
- ``*_gap``: how far this incident leads the best other candidate on ``text``, ``title``
  and ``near``: a report about one of two similar incidents must prefer one;
- ``question``: the report asks how to do something and reports nothing broken;
- ``length``: how many distinct words the report has (log): a short report with a few
  words in common says more than a long one with the same few.

Document frequencies are learned from every report the matcher has seen, not only
from the incidents: a word every report of a product uses says nothing about which
incident a report is about.
"""

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer

from broadcaster.domain.linking import significant_words
from broadcaster.linking.text import Tone, normalise, signatures, tone, versions

N_FEATURES = 2**18
BACKGROUND = Path(__file__).with_name("background.npz")
FEATURES = ("text", "words", "title", "near", "signature", "versions",
            "text_gap", "title_gap", "near_gap", "question", "length")
LEARNED_PER_INCIDENT = 20
SHORTLIST = 5
NEAREST_CHUNK = 25
MAX_SIGNATURES = 3


def _vectorizer(analyzer: str, ngrams: tuple[int, int]) -> HashingVectorizer:
    return HashingVectorizer(analyzer=analyzer, ngram_range=ngrams, n_features=N_FEATURES, alternate_sign=False,
                             norm=None, lowercase=False, token_pattern=r"(?u)\b\w\w+\b")


CHARS, WORDS = _vectorizer("char_wb", (3, 5)), _vectorizer("word", (1, 2))
WORDS_KEPT = 20_000  # words whose character counts are kept (about 10 MB); past that the store starts afresh
Counts = tuple[np.ndarray, np.ndarray]  # features, and how often each occurs
_word_chars: dict[str, Counts] = {}


def char_counts(texts: Sequence[str]) -> sparse.csr_matrix:
    """``CHARS.transform(texts)``, the same matrix, from each word's counts made once and kept.

    ``char_wb`` n-grams never cross a word (the text's whitespace-separated parts), so a
    text's counts are the sum of its words' counts; words repeat from report to report,
    and hashing every n-gram of every report was most of reading a report (a long real
    report cost about 0.3 ms). Only words not seen yet go through the vectoriser.
    """
    documents = [text.split() for text in texts]
    counts = _word_counts(list(dict.fromkeys(word for words in documents for word in words)))
    parts = [counts[word] for words in documents for word in words]
    sizes = [sum(counts[word][0].size for word in words) for words in documents]
    matrix = sparse.csr_matrix((np.concatenate([data for _, data in parts]) if parts else np.zeros(0),
                                np.concatenate([features for features, _ in parts]) if parts else np.zeros(0, np.int32),
                                np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32)),
                               shape=(len(texts), N_FEATURES))
    matrix.sum_duplicates()  # sorted, each feature once: as the vectoriser leaves them
    return matrix


def _word_counts(words: Sequence[str]) -> dict[str, Counts]:
    """Each word's character counts: the kept ones, and the others made in one go (and kept)."""
    counts = {word: kept for word in words if (kept := _word_chars.get(word)) is not None}
    new = [word for word in words if word not in counts]
    if new:
        if len(_word_chars) + len(new) > WORDS_KEPT:
            _word_chars.clear()
        made = CHARS.transform(new)
        for row, word in enumerate(new):
            start, end = made.indptr[row], made.indptr[row + 1]
            _word_chars[word] = counts[word] = made.indices[start:end], made.data[start:end]
    return counts


def first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0]


@dataclass
class DocumentFrequencies:
    """How many of the texts seen so far contain each hashed feature, for characters and words.

    They start from a background of plain English (``background.npz``: paragraphs of this
    project's own documentation and email templates), so that a new system, which has
    seen two reports, already knows that "when" and "my" say less than "csv".
    """

    documents: int = 0

    def __post_init__(self) -> None:
        self.chars = np.zeros(N_FEATURES)
        self.words = np.zeros(N_FEATURES)

    @classmethod
    def background(cls) -> "DocumentFrequencies":
        frequencies = cls()
        if BACKGROUND.exists():
            stored = np.load(BACKGROUND)
            frequencies.documents = int(stored["documents"])
            np.add.at(frequencies.chars, stored["char_indices"], stored["char_counts"])
            np.add.at(frequencies.words, stored["word_indices"], stored["word_counts"])
        return frequencies

    def save(self, path: Path) -> None:
        chars, words = np.flatnonzero(self.chars), np.flatnonzero(self.words)
        np.savez_compressed(path, documents=self.documents, char_indices=chars.astype(np.int32),
                            char_counts=self.chars[chars].astype(np.int32), word_indices=words.astype(np.int32),
                            word_counts=self.words[words].astype(np.int32))

    def add(self, chars: sparse.csr_matrix, words: sparse.csr_matrix) -> None:
        self.documents += chars.shape[0]
        count_into(self.chars, chars.indices)
        count_into(self.words, words.indices)

    def idf(self) -> tuple[np.ndarray, np.ndarray]:
        return idf_of(self.documents, self.chars), idf_of(self.documents, self.words)


def count_into(totals: np.ndarray, indices: np.ndarray) -> None:
    """Add how often each feature occurs in ``indices`` to ``totals``, touching only those features.

    The same numbers as adding a full ``bincount`` (whole counts, exact in float64), without making
    and adding two arrays of 2^18 every batch.
    """
    features, counts = np.unique(indices, return_counts=True)
    totals[features] += counts


def idf_of(documents: int, counts: np.ndarray) -> np.ndarray:
    """``log((documents + 1) / (counts + 1)) + 1``, computed in one new array instead of four."""
    idf = counts + 1
    np.divide(documents + 1, idf, out=idf)
    np.log(idf, out=idf)
    idf += 1.0
    return idf


@dataclass(frozen=True)
class Texts:
    """Raw (unweighted) term counts of some texts, with what the signals need."""

    chars: sparse.csr_matrix
    words: sparse.csr_matrix
    title_chars: sparse.csr_matrix
    signatures: list[frozenset[str]]
    versions: list[frozenset[str]]
    word_sets: list[frozenset[str]]
    questions: np.ndarray

    @classmethod
    def of(cls, texts: Sequence[str]) -> "Texts":
        if not texts:  # the vectorisers cannot transform nothing
            empty = sparse.csr_matrix((0, N_FEATURES))
            return cls(empty, empty, empty, [], [], [], np.zeros(0))
        prepared = [normalise(t) for t in texts]
        chars = char_counts(prepared)
        return cls(chars, WORDS.transform(prepared), _title_chars(chars, prepared, [normalise(first_line(t)) for t in texts]),
                   [signatures(t) for t in texts], [versions(t) for t in texts],
                   [frozenset(significant_words(p)) for p in prepared],
                   np.array([tone(t) is Tone.QUESTION for t in texts], dtype=float))


def _title_chars(chars: sparse.csr_matrix, prepared: Sequence[str], titles: Sequence[str]) -> sparse.csr_matrix:
    """The titles' character counts; a text of one line is its own title, and its row of ``chars`` is taken as it is
    (the hasher counts each text alone, so the row is the same), saving a third of making the counts."""
    own = [row for row, (title, text) in enumerate(zip(titles, prepared, strict=True)) if title != text]
    if not own:
        return chars.copy()
    if len(own) == len(titles):
        return char_counts(titles)
    rows = np.arange(len(titles))
    rows[own] = len(titles) + np.arange(len(own))
    return sparse.vstack([chars, char_counts([titles[row] for row in own])], format="csr")[rows]


def weighted(counts: sparse.csr_matrix, idf: np.ndarray) -> sparse.csr_matrix:
    """Sublinear TF-IDF, L2-normalised: the rows are ready for cosine products."""
    matrix = counts.tocsr().astype(np.float64)  # a copy
    matrix.data = (1.0 + np.log(matrix.data)) * idf[matrix.indices]
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    norms = np.sqrt(np.bincount(rows, matrix.data**2, minlength=matrix.shape[0]))
    matrix.data /= np.where(norms > 0, norms, 1.0)[rows]
    return matrix


@dataclass(frozen=True)
class Evidence:
    """Inverted indexes of what the incidents quote: a report costs a few look-ups, whatever their number."""

    by_signature: dict[str, list[int]] = field(default_factory=dict)
    by_version: dict[str, list[int]] = field(default_factory=dict)
    has_versions: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @classmethod
    def of(cls, incidents: Texts) -> "Evidence":
        by_signature, by_version = defaultdict(list), defaultdict(list)
        for number, (quoted, named) in enumerate(zip(incidents.signatures, incidents.versions, strict=True)):
            for signature in quoted:
                by_signature[signature].append(number)
            for version in named:
                by_version[version].append(number)
        return cls(dict(by_signature), dict(by_version), np.array([bool(v) for v in incidents.versions], dtype=bool))

    def fill(self, reports: Texts, out: np.ndarray, f: dict[str, int]) -> None:
        for r in range(out.shape[0]):
            for signature in reports.signatures[r]:
                for i in self.by_signature.get(signature, ()):
                    out[r, i, f["signature"]] = min(MAX_SIGNATURES, out[r, i, f["signature"]] + 1)
            if reports.versions[r]:
                out[r, self.has_versions, f["versions"]] = -1.0
                for version in reports.versions[r]:
                    out[r, self.by_version.get(version, []), f["versions"]] = 1.0


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + c) for s, c in zip(starts, counts)])``, without the Python loop."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(counts) - counts
    return np.repeat(starts - offsets, counts) + np.arange(total)


def _segment_max(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The maximum of each consecutive segment of ``values`` (segments of ``counts``; empty ones give 0)."""
    result = np.zeros(counts.size)
    filled = counts > 0
    if filled.any():
        result[filled] = np.maximum.reduceat(values, (np.cumsum(counts) - counts)[filled])
    return result


def _dense_in_used_words(words: sparse.csr_matrix) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A look-up of (report, feature) -> weight, dense over the features these reports use (others are 0)."""
    used = np.unique(words.indices)
    position = np.full(N_FEATURES, used.size)  # unused features point at a column of zeros
    position[used] = np.arange(used.size)
    dense = np.zeros((words.shape[0], used.size + 1))
    dense[np.repeat(np.arange(words.shape[0]), np.diff(words.indptr)), position[words.indices]] = words.data
    return lambda reports, features: dense[reports, position[features]]


@dataclass(frozen=True)
class Learned:
    """Reports remembered for the incidents, as weighted word vectors: one matrix, rows grouped by incident."""

    rows: sparse.csr_matrix = field(default_factory=lambda: sparse.csr_matrix((0, N_FEATURES)))
    spans: dict[int, tuple[int, int]] = field(default_factory=dict)  # incident column -> its rows

    def nearest(self, words: sparse.csr_matrix, shortlist: np.ndarray, n_incidents: int) -> np.ndarray:
        """For each report and shortlisted incident, the highest cosine to a report remembered for it.

        Only the shortlist (the few incidents a report is closest to on its text) is compared, so
        the cost does not grow with the number of incidents. Every (report, remembered row) dot
        product is computed at once: the rows' non-zeros are gathered and multiplied with the
        report's weights, then summed per row and maximised per incident.
        """
        near = np.zeros((words.shape[0], n_incidents))
        for start in range(0, words.shape[0], NEAREST_CHUNK):  # bounds the dense look-up's memory
            chunk = slice(start, start + NEAREST_CHUNK)
            near[chunk] = self._nearest(words[chunk], shortlist[chunk], n_incidents)
        return near

    def _nearest(self, words: sparse.csr_matrix, shortlist: np.ndarray, n_incidents: int) -> np.ndarray:
        near = np.zeros((words.shape[0], n_incidents))
        pairs = [(report, int(column)) for report, columns in enumerate(shortlist) for column in columns
                 if column in self.spans]
        if not pairs:
            return near
        reports, columns = np.array(pairs).T
        starts, ends = np.array([self.spans[c] for c in columns]).T
        rows = _ranges(starts, ends - starts)
        report_of_row = np.repeat(reports, ends - starts)
        first, last = self.rows.indptr[rows], self.rows.indptr[rows + 1]
        entries = _ranges(first, last - first)
        products = self.rows.data[entries] * _dense_in_used_words(words)(np.repeat(report_of_row, last - first),
                                                                          self.rows.indices[entries])
        dots = np.zeros(rows.size)
        nonempty = last > first
        dots[nonempty] = np.add.reduceat(products, (np.cumsum(last - first) - (last - first))[nonempty])
        near[reports, columns] = _segment_max(dots, ends - starts)
        return near


@dataclass(frozen=True)
class Candidates:
    """The candidate incidents, weighted with the document frequencies of one moment."""

    text_chars: sparse.csr_matrix  # (features × incidents), for report @ matrix
    text_words: sparse.csr_matrix
    titles: sparse.csr_matrix
    evidence: Evidence
    learned: Learned


def pair_features(
    reports: Texts, candidates: Candidates, idf: tuple[np.ndarray, np.ndarray], allowed: np.ndarray
) -> np.ndarray:
    """A (reports × incidents × features) array; pairs not ``allowed`` are left at zero."""
    char_idf, word_idf = idf
    chars, words = weighted(reports.chars, char_idf), weighted(reports.words, word_idf)
    n_reports, n_incidents = allowed.shape
    out = np.zeros((n_reports, n_incidents, len(FEATURES)))
    f = {name: i for i, name in enumerate(FEATURES)}
    out[..., f["text"]] = (chars @ candidates.text_chars).toarray()
    out[..., f["words"]] = (words @ candidates.text_words).toarray()
    out[..., f["title"]] = (weighted(reports.title_chars, char_idf) @ candidates.titles).toarray()
    out[..., f["near"]] = candidates.learned.nearest(words, shortlist(out[..., f["text"]], allowed), n_incidents)
    candidates.evidence.fill(reports, out, f)
    out[..., f["question"]] = reports.questions[:, None]
    out[..., f["length"]] = np.log1p([len(w) for w in reports.word_sets])[:, None]
    out *= allowed[..., None]
    for name in ("text", "title", "near"):
        out[..., f[name + "_gap"]] = _lead(out[..., f[name]], allowed)
    return out


def shortlist(similarity: np.ndarray, allowed: np.ndarray, size: int = SHORTLIST) -> np.ndarray:
    """Per report, the columns of the ``size`` allowed incidents its text is most similar to."""
    masked = np.where(allowed, similarity, -1.0)
    if masked.shape[1] <= size:
        return np.tile(np.arange(masked.shape[1]), (masked.shape[0], 1))
    return np.argpartition(-masked, size - 1, axis=1)[:, :size]


def _lead(values: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Each value minus the best value among the report's other allowed incidents."""
    masked = np.where(allowed, values, -np.inf)
    if masked.shape[1] < 2:
        return np.where(allowed, values, 0.0)
    top_two = -np.partition(-masked, 1, axis=1)[:, :2]
    rival = np.where(masked >= top_two[:, [0]], top_two[:, [1]], top_two[:, [0]])
    rival = np.where(np.isfinite(rival), rival, 0.0)
    return np.where(allowed, values - rival, 0.0)
