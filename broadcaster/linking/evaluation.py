"""Offline evaluation: replay labelled reports through the same matcher the processor uses.

Reports are replayed in the order they were received. As in production, an automatic
link teaches the matcher, and a suggestion goes to an engineer, who here answers with
the label: a correct suggestion is confirmed (and teaches), a wrong one is rejected.
Precision and recall are of automatic links only: what the system does with nobody
looking.
"""

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from broadcaster.linking.matcher import IncidentProfile, Matcher, Outcome, ReportText
from broadcaster.wire.schemas import schema_text


class EvaluationInputError(ValueError):
    pass


@dataclass(frozen=True)
class LabelledReport:
    report_id: str
    report: ReportText
    label: str | None


@dataclass
class Result:
    reports: int = 0
    linked: int = 0
    linked_correct: int = 0
    labelled: int = 0
    suggested: int = 0
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

    def as_dict(self) -> dict[str, Any]:
        return {
            "precision": round(self.precision, 4), "recall": round(self.recall, 4), "f1": round(self.f1, 4),
            "triage_share": round(self.triage_share, 4), "reports": self.reports, "labelled": self.labelled,
            "linked": self.linked, "linked_correct": self.linked_correct, "suggested": self.suggested,
            "suggested_correct": self.suggested_correct, "unlinked": self.unlinked,
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
    reports = [
        LabelledReport(doc["report_id"], ReportText(doc["text"], doc.get("component"), _time(doc.get("received_at"))),
                       doc.get("label"))
        for doc in _lines(path, "linking-eval-report.v1.json")
    ]
    return sorted(reports, key=lambda r: r.report.received_at.timestamp() if r.report.received_at else 0.0)


def evaluate(matcher: Matcher, incidents: list[IncidentProfile], reports: Iterable[LabelledReport]) -> Result:
    known = {incident.incident_id for incident in incidents}
    matcher.set_incidents(incidents)
    result = Result()
    for item in reports:
        if item.label is not None and item.label not in known:
            raise EvaluationInputError(f"report {item.report_id} is labelled {item.label}, which is not an incident")
        _score_one(matcher, item, result)
    return result


def _score_one(matcher: Matcher, item: LabelledReport, result: Result) -> None:
    decision = matcher.decide(item.report)
    result.decisions.append({"report_id": item.report_id, "label": item.label, "outcome": decision.outcome.value,
                             "incident_id": decision.incident_id, "score": round(decision.score, 4)})
    result.reports += 1
    result.labelled += item.label is not None
    incident_id = decision.incident_id
    if decision.outcome is Outcome.LINKED and incident_id is not None:
        result.linked += 1
        matcher.learn(incident_id, item.report.text)
        if incident_id == item.label:
            result.linked_correct += 1
        else:
            result.confusions[(item.label or "(none)", incident_id)] += 1
    elif decision.outcome is Outcome.SUGGESTED and incident_id is not None:
        result.suggested += 1
        if incident_id == item.label:
            result.suggested_correct += 1
            matcher.learn(incident_id, item.report.text)
    else:
        result.unlinked += 1
