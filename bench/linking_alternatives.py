"""The evidence behind the matcher: the same labelled corpus through the alternatives we tried.

    python bench/linking_alternatives.py [--json]

Each variant runs through the same offline evaluation (broadcaster.linking.evaluation),
with thresholds picked per variant on the corpus for the best recall at precision >= 0.98
(or the best precision when none reaches it), so each is shown at its best.
"""

import argparse
import itertools
import json
from dataclasses import replace
from pathlib import Path

from broadcaster.domain.linking import significant_words
from broadcaster.linking.evaluation import LabelledReport, evaluate, load_incidents, load_reports
from broadcaster.linking.matcher import IncidentProfile, Matcher, Thresholds, Weights
from broadcaster.linking.text import normalise

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "linking"
GRID = list(itertools.product([0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5], [0.03, 0.06]))
VARIANTS = {
    "chosen: words + characters + signals + learning": Weights(),
    "word n-grams only": Weights(char=0.0),
    "character n-grams only": Weights(char=20.0),
    "without signals (phrases, codes, component, tone)": Weights(phrase_bonus=0, code_bonus=0, same_component=0,
                                                                 other_component=0, question_factor=1,
                                                                 neutral_factor=1),
    "without learning from confirmed reports": Weights(learned_share=0.0),
}


def first_version(incidents: list[IncidentProfile], reports: list[LabelledReport]) -> dict:
    """Linking v1: every significant word of a match phrase or the title appears in the report."""
    linked = correct = 0
    for item in reports:
        words = significant_words(normalise(item.report.text))
        hits = [i.incident_id for i in incidents
                if any(significant_words(normalise(p)) <= words for p in (*i.phrases, i.title))]
        if len(hits) == 1:
            linked += 1
            correct += hits[0] == item.label
    labelled = sum(r.label is not None for r in reports)
    return {"precision": round(correct / linked, 3) if linked else 1.0, "recall": round(correct / labelled, 3),
            "triage_share": 0.0, "link": None, "margin": None}


def best(weights: Weights, incidents: list[IncidentProfile], reports: list[LabelledReport]) -> dict:
    results = []
    for link, margin in GRID:
        r = evaluate(Matcher(replace(Thresholds(), link=link, margin=margin), weights), incidents, reports)
        results.append((r.precision >= 0.98, r.recall if r.precision >= 0.98 else r.precision, link, margin, r))
    _, _, link, margin, r = max(results, key=lambda x: (x[0], x[1]))
    return {"precision": round(r.precision, 3), "recall": round(r.recall, 3),
            "triage_share": round(r.triage_share, 3), "link": link, "margin": margin}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    incidents, reports = load_incidents(DATA / "incidents.jsonl"), load_reports(DATA / "reports.jsonl")
    table = {"first version (all words of a phrase or the title)": first_version(incidents, reports)}
    table |= {name: best(weights, incidents, reports) for name, weights in VARIANTS.items()}
    if args.json:
        print(json.dumps(table))
        return
    for name, row in table.items():
        print(f"{name:<52} precision {row['precision']:.3f}  recall {row['recall']:.3f}  "
              f"triage {row['triage_share']:.3f}  (link {row['link']}, margin {row['margin']})")


if __name__ == "__main__":
    main()
