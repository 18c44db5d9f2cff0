"""First-version linking: does a report describe one of the known incidents?

A report matches an incident when their components agree (either may be unknown)
and the report contains every significant word of at least one of the incident's
match phrases or of its title, after light normalisation (case, punctuation,
plural ``s``). The incident whose matching phrase is most specific wins.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOPWORDS = frozenset(
    """a an and are as at be but by can cannot can't do does for from get gets got has
    have i i'm in into is it its me my of on or our the their this to was we when
    while with you your""".split()
)


@dataclass(frozen=True)
class Candidate:
    """An incident as the matcher sees it."""

    incident_id: str
    title: str
    component: str | None
    phrases: tuple[str, ...]
    is_open: bool
    declared_at: datetime
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class Match:
    candidate: Candidate
    phrase: str
    specificity: int


def _stem(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def significant_words(text: str) -> frozenset[str]:
    return frozenset(
        _stem(word) for word in _WORD.findall(text.lower()) if word not in _STOPWORDS
    )


def _components_agree(report_component: str | None, incident_component: str | None) -> bool:
    if report_component is None or incident_component is None:
        return True
    return report_component.strip().lower() == incident_component.strip().lower()


def best_match(
    text: str, component: str | None, candidates: Iterable[Candidate]
) -> Match | None:
    """The most specific candidate the report matches, or None."""
    words = significant_words(text)
    best: Match | None = None
    for candidate in candidates:
        if not _components_agree(component, candidate.component):
            continue
        for phrase in (*candidate.phrases, candidate.title):
            needed = significant_words(phrase)
            if needed and needed <= words:
                match = Match(candidate, phrase, len(needed))
                if best is None or _outranks(match, best):
                    best = match
    return best


def _outranks(new: Match, old: Match) -> bool:
    """Open beats resolved, a longer phrase beats a shorter one, newer beats older."""
    return (new.candidate.is_open, new.specificity, new.candidate.declared_at) > (
        old.candidate.is_open,
        old.specificity,
        old.candidate.declared_at,
    )


def reports_matching(
    candidate: Candidate, reports: Sequence[tuple[str, str, str | None]]
) -> list[str]:
    """Ids of the ``(report_id, text, component)`` reports that match one incident."""
    return [
        report_id
        for report_id, text, component in reports
        if best_match(text, component, [candidate]) is not None
    ]
