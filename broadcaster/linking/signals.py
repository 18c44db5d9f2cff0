"""What a bag of words misses, as score adjustments computed for all incidents at once.

Indexes are built once per candidate set, so a report costs a few dictionary look-ups
and numpy operations whatever the number of incidents.
"""

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np

from broadcaster.domain.linking import significant_words
from broadcaster.linking.text import Tone, error_codes, normalise, tone

if TYPE_CHECKING:
    from broadcaster.linking.matcher import IncidentProfile, ReportText, Weights


@dataclass
class Signals:
    weights: "Weights"
    backlog_window: timedelta

    def index(self, profiles: Sequence["IncidentProfile"]) -> None:
        self._count = len(profiles)
        self._phrase_words: dict[str, list[int]] = defaultdict(list)
        owners: list[int] = []
        sizes: list[int] = []
        for number, profile in enumerate(profiles):
            for phrase in profile.phrases:
                needed = significant_words(normalise(phrase))
                if needed:
                    for word in needed:
                        self._phrase_words[word].append(len(owners))
                    owners.append(number)
                    sizes.append(len(needed))
        self._phrase_owner, self._phrase_size = np.array(owners, dtype=int), np.array(sizes, dtype=int)
        self._codes: dict[str, set[int]] = defaultdict(set)
        for number, profile in enumerate(profiles):
            for code in error_codes(f"{profile.title} {profile.description} {' '.join(profile.phrases)}"):
                self._codes[code].add(number)
        self._components = np.array([(p.component or "").strip().lower() for p in profiles])
        self._declared = np.array([p.declared_at.timestamp() if p.declared_at else np.nan for p in profiles])

    def adjust(self, report: "ReportText", similarity: np.ndarray) -> np.ndarray:
        """Additive adjustments to ``similarity`` (one value per incident) for one report."""
        w = self.weights
        adjust = np.zeros(self._count)
        adjust[self._phrase_matches(report.text)] += w.phrase_bonus
        adjust[sorted({i for code in error_codes(report.text) for i in self._codes.get(code, ())})] += w.code_bonus
        if report.component:
            same = self._components == report.component.strip().lower()
            adjust[same] += w.same_component
            adjust[(self._components != "") & ~same] += w.other_component
        if report.received_at:
            too_early = self._declared - self.backlog_window.total_seconds() > report.received_at.timestamp()
            adjust[too_early] -= (1 - w.too_early_factor) * similarity[too_early]
        factor = {Tone.FAILURE: 1.0, Tone.QUESTION: w.question_factor, Tone.NEUTRAL: w.neutral_factor}[tone(report.text)]
        adjust -= (1 - factor) * (similarity + adjust)
        return adjust

    def _phrase_matches(self, text: str) -> list[int]:
        """Incidents with a match phrase whose every significant word the text contains."""
        hits = Counter(p for word in significant_words(normalise(text)) for p in self._phrase_words.get(word, ()))
        complete = [phrase for phrase, count in hits.items() if count == self._phrase_size[phrase]]
        return sorted(set(self._phrase_owner[complete].tolist()))
