"""Offline evaluation: replay labelled reports through the same matcher the processor uses.

Reports are replayed in the order they were written. As in production, an automatic
link teaches the matcher, and a suggestion goes to an engineer, who here answers with
the label: a correct suggestion is confirmed (and teaches), a wrong one is rejected.
Precision and recall are of automatic links only: what the system does with nobody
looking. For triaged reports, what counts is whether the first suggestion was right.

:func:`cross_validate` measures honestly: for each group of reports (a product), the
model is fitted and the thresholds chosen on the other groups only, then the group is
replayed.
"""

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from jsonschema import Draft202012Validator

from broadcaster.linking import training
from broadcaster.linking.matcher import Coefficients, IncidentProfile, Matcher, Outcome, ReportText, Thresholds
from broadcaster.wire.schemas import schema_text

LINK_GRID = tuple(np.round(np.arange(0.30, 0.99, 0.02), 2))


class EvaluationInputError(ValueError):
    pass


@dataclass(frozen=True)
class LabelledReport:
    report_id: str
    report: ReportText
    label: str | None

    @property
    def group(self) -> str:
        return self.report.component or "(none)"


@dataclass
class Result:
    reports: int = 0
    linked: int = 0
    linked_correct: int = 0
    labelled: int = 0
    suggested: int = 0
    suggested_labelled: int = 0
    suggested_correct: int = 0
    unlinked: int = 0
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)
    decisions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.linked_correct / self.linked if self.linked else 1.0

    @property
    def recall(self) -> float:
        return self.linked_correct / self.labelled if self.labelled else 1.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    @property
    def triage_share(self) -> float:
        return self.suggested / self.reports if self.reports else 0.0

    @property
    def first_suggestion_right(self) -> float:
        """Of the labelled reports sent to triage, the share whose suggested incident was the right one."""
        return self.suggested_correct / self.suggested_labelled if self.suggested_labelled else 1.0

    @property
    def magnet_share(self) -> float:
        """The share of wrong links that went to the one incident with the most: 1.0 means one magnet."""
        wrong = Counter[str]()
        for (_, got), n in self.confusions.items():
            wrong[got] += n
        return max(wrong.values()) / sum(wrong.values()) if wrong else 0.0

    def add(self, other: "Result") -> None:
        for name in ("reports", "linked", "linked_correct", "labelled", "suggested", "suggested_labelled",
                     "suggested_correct", "unlinked"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.confusions.update(other.confusions)
        self.decisions += other.decisions

    def as_dict(self) -> dict[str, Any]:
        return {
            "precision": round(self.precision, 4), "recall": round(self.recall, 4), "f1": round(self.f1, 4),
            "triage_share": round(self.triage_share, 4),
            "first_suggestion_right": round(self.first_suggestion_right, 4),
            "magnet_share": round(self.magnet_share, 4), "reports": self.reports, "labelled": self.labelled,
            "linked": self.linked, "linked_correct": self.linked_correct, "suggested": self.suggested,
            "suggested_labelled": self.suggested_labelled, "suggested_correct": self.suggested_correct,
            "unlinked": self.unlinked,
            "confusions": [{"label": label, "linked_to": got, "count": n}
                           for (label, got), n in self.confusions.most_common()],
        }


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _lines(path: Path, schema: str) -> Iterator[dict[str, Any]]:
    validator = Draft202012Validator(json.loads(schema_text(schema)))
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except json.JSONDecodeError as error:
            raise EvaluationInputError(f"{path}:{number}: not JSON: {error}") from None
        problems = [e.message for e in validator.iter_errors(document)]
        if problems:
            raise EvaluationInputError(f"{path}:{number}: {'; '.join(problems)}")
        yield document


def load_incidents(path: Path) -> list[IncidentProfile]:
    return [
        IncidentProfile(doc["incident_id"], doc["title"], doc.get("component"), doc.get("description") or "",
                        tuple(doc.get("match") or ()), _time(doc.get("declared_at")))
        for doc in _lines(path, "linking-eval-incident.v1.json")
    ]


def load_reports(path: Path) -> list[LabelledReport]:
    """The reports in the order they were written (``received_at`` when given, else file order)."""
    reports = [
        LabelledReport(doc["report_id"], ReportText(doc["text"], doc.get("component"), _time(doc.get("received_at"))),
                       doc.get("label"))
        for doc in _lines(path, "linking-eval-report.v1.json")
    ]
    return sorted(reports, key=lambda r: r.report.received_at.timestamp() if r.report.received_at else 0.0)


def load_corpus(folder: Path) -> tuple[list[IncidentProfile], list[LabelledReport]]:
    return load_incidents(folder / "incidents.jsonl"), load_reports(folder / "reports.jsonl")


def evaluate(matcher: Matcher, incidents: list[IncidentProfile], reports: Iterable[LabelledReport],
             *, learn: bool = True) -> Result:
    known = {incident.incident_id for incident in incidents}
    matcher.set_incidents(incidents)
    result = Result()
    for item in reports:
        if item.label is not None and item.label not in known:
            raise EvaluationInputError(f"report {item.report_id} is labelled {item.label}, which is not an incident")
        _score_one(matcher, item, result, learn)
    return result


def _score_one(matcher: Matcher, item: LabelledReport, result: Result, learn: bool) -> None:
    decision = matcher.decide(item.report)
    result.decisions.append({"report_id": item.report_id, "label": item.label, "outcome": decision.outcome.value,
                             "incident_id": decision.incident_id, "score": round(decision.score, 4)})
    result.reports += 1
    result.labelled += item.label is not None
    incident_id = decision.incident_id
    if decision.outcome is Outcome.LINKED and incident_id is not None:
        result.linked += 1
        if learn:
            matcher.learn(incident_id, item.report.text)
        if incident_id == item.label:
            result.linked_correct += 1
        else:
            result.confusions[(item.label or "(none)", incident_id)] += 1
    elif decision.outcome is Outcome.SUGGESTED and incident_id is not None:
        result.suggested += 1
        result.suggested_labelled += item.label is not None
        if incident_id == item.label:
            result.suggested_correct += 1
            matcher.learn(incident_id, item.report.text)  # the engineer confirms
        else:
            matcher.reject(incident_id, item.report.text)
    else:
        result.unlinked += 1


# Cross-validation --------------------------------------------------------------


def examples(reports: Sequence[LabelledReport]) -> list[training.Example]:
    return [training.Example(r.report_id, r.report.text, r.report.component, r.label, r.group) for r in reports]


def threshold_results(pairs: training.Pairs, coefficients: Coefficients, margin: float) -> list[tuple[float, float, float]]:
    """(link threshold, precision, recall) of each report's best candidate, as the training replay saw them."""
    probability = coefficients.probability(pairs.features)
    best: dict[int, list[float]] = {}
    labelled = set()
    for row, report in enumerate(pairs.reports):
        if pairs.labels[row]:
            labelled.add(report)
        scores = best.setdefault(report, [0.0, 0.0, 0.0])  # best, runner-up, best is right
        if probability[row] > scores[0]:
            scores[:] = [probability[row], scores[0], float(pairs.labels[row])]
        elif probability[row] > scores[1]:
            scores[1] = probability[row]
    results = []
    for link in LINK_GRID:
        chosen = [right for top, runner, right in best.values() if top >= link and top - runner >= margin]
        precision = sum(chosen) / len(chosen) if chosen else 1.0
        results.append((float(link), precision, sum(chosen) / max(1, len(labelled))))
    return results


def fit_for(training_pairs: Sequence[training.Pairs], target_precision: float, defaults: Thresholds,
            ignore: Sequence[str] = ()) -> tuple[Coefficients, Thresholds]:
    """Coefficients and thresholds chosen on ``training_pairs`` alone (``ignore``: features left out)."""
    chosen = [training.without(pairs, ignore) for pairs in training_pairs]
    coefficients = training.fit(chosen)
    merged = training.concatenate(chosen)
    thresholds = training.choose_thresholds(threshold_results(merged, coefficients, defaults.margin),
                                            target_precision, defaults)
    return coefficients, thresholds


def cross_validate(incidents: list[IncidentProfile], reports: list[LabelledReport], *,
                   also_train_on: Sequence[training.Pairs] = (), target_precision: float = 0.95,
                   defaults: Thresholds | None = None, learn: bool = True,
                   ignore: Sequence[str] = ()) -> tuple[Result, dict[str, Thresholds]]:
    """Leave one group (product) out: fit and choose thresholds on the rest, replay the group."""
    defaults = defaults or Thresholds()
    pairs = training.replay_pairs(incidents, examples(reports))
    total, chosen = Result(), {}
    for group in sorted({r.group for r in reports}):
        kept = training.subset(pairs, pairs.groups != group)
        coefficients, thresholds = fit_for([kept, *also_train_on], target_precision, defaults, ignore)
        chosen[group] = thresholds
        held = [r for r in reports if r.group == group]
        total.add(evaluate(Matcher(thresholds, coefficients), incidents, held, learn=learn))
    return total, chosen
