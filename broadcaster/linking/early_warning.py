"""Early warning: unlinked reports that resemble each other and pile up look like an incident.

Nobody should learn of an outage from the fourth angry email: when ``count`` unlinked
reports within the window are similar enough to each other, engineers are shown them
together, with phrases to declare the incident by.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.preprocessing import normalize

from broadcaster.domain.linking import significant_word_forms
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
    return [recent[i][0] for i in resembling(matcher, [text], [t for _, t in recent], threshold)[0]]


def resembling(matcher: Matcher, texts: Sequence[str], recent: Sequence[str],
               threshold: float = CLUSTER_SIMILARITY) -> list[list[int]]:
    """For each of ``texts``, the positions in ``recent`` of the texts that resemble it: all counted in one go."""
    if not recent or not texts:
        return [[] for _ in texts]
    vectors = normalize(matcher.term_frequencies([*texts, *recent]))
    similarity = (vectors[: len(texts)] @ vectors[len(texts):].T).toarray()
    return [np.flatnonzero(row >= threshold).tolist() for row in similarity]


def describe(texts: Sequence[str], top: int = 3) -> tuple[tuple[str, ...], str]:
    """The words most of these reports share (match phrases to declare with), and a title hint.

    Words are counted by their stem, once per report, and shown in the form the reports
    used most (``crashes``, not the stem ``crashe``): a phrase an engineer can type as is.
    """
    counts: Counter[str] = Counter()
    forms: dict[str, Counter[str]] = {}
    for text in texts:
        written = [(stem, form) for stem, form in significant_word_forms(normalise(text)) if len(stem) > 2]
        counts.update({stem for stem, _ in written})
        for stem, form in written:
            forms.setdefault(stem, Counter())[form] += 1
    phrases = tuple(forms[stem].most_common(1)[0][0] for stem, n in counts.most_common(top) if n > 1)
    hint = min(texts, key=len)
    return phrases, (hint if len(hint) <= 120 else hint[:117] + "...")
