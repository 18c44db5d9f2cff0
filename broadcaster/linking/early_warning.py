"""Early warning: unlinked reports that resemble each other and pile up look like an incident.

Nobody should learn of an outage from the fourth angry email: when ``count`` unlinked
reports within the window are similar enough to each other, engineers are shown them
together, with phrases to declare the incident by.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sklearn.preprocessing import normalize

from broadcaster.domain.linking import significant_words
from broadcaster.linking.matcher import Matcher
from broadcaster.linking.text import normalise

CLUSTER_SIMILARITY = 0.3


@dataclass(frozen=True)
class Cluster:
    report_ids: tuple[str, ...]
    phrases: tuple[str, ...]
    title_hint: str


def similar_reports(
    matcher: Matcher, text: str, recent: Sequence[tuple[str, str]], threshold: float = CLUSTER_SIMILARITY
) -> list[str]:
    """Ids of the ``(id, text)`` recent reports that resemble ``text``."""
    if not recent:
        return []
    vectors = normalize(matcher.term_frequencies([text, *(t for _, t in recent)]))
    similarity = (vectors[1:] @ vectors[0].T).toarray().ravel()
    return [report_id for (report_id, _), score in zip(recent, similarity, strict=True) if score >= threshold]


def describe(texts: Sequence[str], top: int = 3) -> tuple[tuple[str, ...], str]:
    """The words most of these reports share (match phrases to declare with), and a title hint."""
    counts = Counter(word for text in texts for word in significant_words(normalise(text)) if len(word) > 2)
    phrases = tuple(word for word, n in counts.most_common(top) if n > 1)
    hint = min(texts, key=len)
    return phrases, (hint if len(hint) <= 120 else hint[:117] + "...")
