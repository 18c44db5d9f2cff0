"""Fitting the matcher's logistic model on labelled reports, and choosing thresholds for a precision.

Training pairs come from replaying each corpus in the order its reports were written,
as the processor would see them, with every earlier labelled report already learned
(what engineers' confirmations give the matcher). Each (report, candidate incident)
pair is one example: positive when the report is about that incident.

    python -m broadcaster.linking.training   # refit coefficients.json on the training corpora

The shipped coefficients are fitted on the real corpus's dev split and the synthetic
corpus; the real corpus's holdout split is never used for fitting or choosing anything.
"""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from broadcaster.linking.features import BACKGROUND, FEATURES, DocumentFrequencies, Texts
from broadcaster.linking.matcher import COEFFICIENTS, Coefficients, IncidentProfile, Matcher, ReportText, Thresholds

REGULARISATION = 1.0
DATA = Path(__file__).resolve().parents[2] / "tests" / "data"
TRAINING_CORPORA = (DATA / "linking_real" / "dev", DATA / "linking")


@dataclass(frozen=True)
class Example:
    """One labelled report, with the group it belongs to for cross-validation (its product)."""

    report_id: str
    text: str
    component: str | None
    label: str | None
    group: str


@dataclass(frozen=True)
class Pairs:
    features: np.ndarray  # (pairs × features)
    labels: np.ndarray  # 1 when the report is about the incident
    groups: np.ndarray  # the report's group, per pair
    reports: np.ndarray  # which report, per pair (numbered within these pairs)


def replay_pairs(incidents: Sequence[IncidentProfile], examples: Sequence[Example]) -> Pairs:
    """Every candidate pair of the replay, with earlier labelled reports learned (as confirmed)."""
    matcher = Matcher(coefficients=Coefficients(tuple(0.0 for _ in FEATURES), 0.0))
    matcher.set_incidents(incidents)
    ids = np.array(matcher.incident_ids)
    rows, labels, groups, reports = [], [], [], []
    for number, example in enumerate(examples):
        matcher.observe([example.text])
        features, allowed = matcher.features([ReportText(example.text, example.component)])
        rows.append(features[0][allowed[0]])
        labels.append(ids[allowed[0]] == example.label)
        groups += [example.group] * int(allowed[0].sum())
        reports += [number] * int(allowed[0].sum())
        if example.label is not None:
            matcher.learn(example.label, example.text)
    return Pairs(np.vstack(rows), np.concatenate(labels).astype(int), np.array(groups), np.array(reports))


def concatenate(pairs: Sequence[Pairs]) -> Pairs:
    """One set of pairs; report numbers stay distinct."""
    offsets = np.cumsum([0] + [int(p.reports.max()) + 1 if p.reports.size else 0 for p in pairs[:-1]])
    return Pairs(np.vstack([p.features for p in pairs]), np.concatenate([p.labels for p in pairs]),
                 np.concatenate([p.groups for p in pairs]),
                 np.concatenate([p.reports + offset for p, offset in zip(pairs, offsets, strict=True)]))


def fit(pairs: Iterable[Pairs]) -> Coefficients:
    merged = concatenate(list(pairs))
    model = LogisticRegression(C=REGULARISATION, max_iter=5000).fit(merged.features, merged.labels)
    return Coefficients(tuple(float(w) for w in model.coef_[0]), float(model.intercept_[0]))


def without(pairs: Pairs, features: Sequence[str]) -> Pairs:
    """The same pairs with these features zeroed: a model fitted on them ignores them (for ablations)."""
    if not features:
        return pairs
    zeroed = pairs.features.copy()
    zeroed[:, [FEATURES.index(name) for name in features]] = 0.0
    return Pairs(zeroed, pairs.labels, pairs.groups, pairs.reports)


def subset(pairs: Pairs, keep: np.ndarray) -> Pairs:
    return Pairs(pairs.features[keep], pairs.labels[keep], pairs.groups[keep], pairs.reports[keep])


def save(coefficients: Coefficients, trained_on: Sequence[str], path: Path = COEFFICIENTS) -> None:
    path.write_text(json.dumps({
        "features": list(FEATURES), "weights": [round(w, 6) for w in coefficients.weights],
        "intercept": round(coefficients.intercept, 6), "trained_on": list(trained_on),
        "regularisation": REGULARISATION,
    }, indent=2) + "\n")


def choose_thresholds(results: Sequence[tuple[float, float, float]], target_precision: float,
                      default: Thresholds) -> Thresholds:
    """The link threshold with the best recall whose training precision reaches the target.

    ``results`` holds (link threshold, precision, recall) measured on training folds only.
    """
    good = [(recall, -link) for link, precision, recall in results if precision >= target_precision]
    if not good:
        return Thresholds(1.01, default.suggest, default.margin)  # never link: everything goes to an engineer
    _, negative_link = max(good)
    return Thresholds(-negative_link, default.suggest, default.margin)


def background_paragraphs() -> list[str]:
    """Plain English of our own: the project's documentation and email templates, a paragraph each."""
    root = DATA.parents[1]
    files = [root / "README.md", *sorted((root / "docs").glob("*.md")),
             *sorted((root / "broadcaster" / "messages" / "templates").glob("*.txt"))]
    return [p.strip() for f in files for p in f.read_text().split("\n\n") if len(p.split()) >= 5]


def write_background() -> int:
    frequencies = DocumentFrequencies()
    texts = Texts.of(background_paragraphs())
    frequencies.add(texts.chars, texts.words)
    frequencies.save(BACKGROUND)
    return frequencies.documents


def main() -> None:
    from broadcaster.linking.evaluation import examples, load_corpus

    print(f"background: {write_background()} paragraphs")

    pairs = []
    for folder in TRAINING_CORPORA:
        incidents, reports = load_corpus(folder)
        pairs.append(replay_pairs(incidents, examples(reports)))
    coefficients = fit(pairs)
    save(coefficients, [str(folder.relative_to(DATA.parents[1])) for folder in TRAINING_CORPORA])
    for name, weight in zip(FEATURES, coefficients.weights, strict=True):
        print(f"{name:<12} {weight:+.3f}")
    print(f"{'intercept':<12} {coefficients.intercept:+.3f}")


if __name__ == "__main__":
    main()
