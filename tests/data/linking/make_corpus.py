"""Builds incidents.jsonl and reports.jsonl from the hand-written sources beside it.

Deterministic (fixed seed): typos, shouting, missing punctuation, context sentences
and components (some missing, some wrong) are applied the same way every run.
    python tests/data/linking/make_corpus.py
"""

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from incidents_source import INCIDENTS
from unlinked_source import DECOYS, OTHER

HERE = Path(__file__).parent
START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
CONTEXT_BEFORE = [
    "Hi team,", "Hello,", "Good morning.", "Not sure who to ask about this.", "Sorry to bother you again.",
    "I run a volunteer association and we rely on your site.", "This is urgent for us.",
]
CONTEXT_AFTER = [
    "Thanks.", "Please help!", "Can you look into it?", "It worked fine last week.",
    "I tried another browser, same thing.", "We have an event on Saturday so this matters.",
    "Thank you in advance, Kim", "I already cleared my cache and restarted.",
]
COMPONENTS = sorted({component for _, _, component, *_ in INCIDENTS})


def typo(text: str, rng: random.Random) -> str:
    """One or two slips of the keyboard: a swapped, dropped or doubled letter."""
    letters = list(text)
    for _ in range(rng.choice((1, 2))):
        i = rng.randrange(1, max(2, len(letters) - 2))
        if not letters[i].isalpha():
            continue
        kind = rng.choice(("swap", "drop", "double"))
        if kind == "swap" and letters[i + 1].isalpha():
            letters[i], letters[i + 1] = letters[i + 1], letters[i]
        elif kind == "drop":
            del letters[i]
        else:
            letters.insert(i, letters[i])
    return "".join(letters)


def variant(text: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.25:
        return typo(text, rng)
    if roll < 0.35:
        return text.upper() + "!!!"
    if roll < 0.5:
        return text.lower().rstrip(".!?")
    if roll < 0.75:
        return f"{rng.choice(CONTEXT_BEFORE)} {text}. {rng.choice(CONTEXT_AFTER)}"
    return f"{text}. {rng.choice(CONTEXT_AFTER)}"


def component_for(actual: str, rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.3:
        return None
    if roll < 0.35:
        return rng.choice([c for c in COMPONENTS if c != actual])
    return actual


def build() -> tuple[list[dict], list[dict]]:
    rng = random.Random(2026)
    incidents, reports = [], []
    for n, (incident_id, title, component, description, phrases, texts) in enumerate(INCIDENTS):
        declared = START + timedelta(hours=7 * n)
        incident = {"incident_id": incident_id, "title": title, "component": component,
                    "description": description, "declared_at": declared.isoformat().replace("+00:00", "Z")}
        if phrases:
            incident["match"] = phrases
        incidents.append(incident)
        for text in texts:
            for copy in range(2):  # each customer sentence, as written and as another customer would
                at = declared + timedelta(minutes=rng.randint(-240, 2880))
                reports.append({"text": text if copy == 0 else variant(text, rng),
                                "component": component_for(component, rng), "label": incident_id,
                                "received_at": at.isoformat().replace("+00:00", "Z")})
    end = START + timedelta(hours=7 * len(INCIDENTS))
    unlinked = [(c, t) for c, t in DECOYS] + [(None, t) for t in OTHER]
    for component, text in unlinked:
        for copy in range(2 if component else 1):
            at = START + (end - START) * rng.random()
            reports.append({"text": text if copy == 0 else variant(text, rng), "component": component,
                            "label": None, "received_at": at.isoformat().replace("+00:00", "Z")})
    rng.shuffle(reports)
    for number, report in enumerate(reports, start=1):
        report["report_id"] = f"rep-{number:04d}"
    return incidents, [{"report_id": r.pop("report_id"), **r} for r in reports]


def main() -> None:
    incidents, reports = build()
    (HERE / "incidents.jsonl").write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in incidents))
    (HERE / "reports.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in reports))
    labelled = sum(r["label"] is not None for r in reports)
    print(f"{len(incidents)} incidents, {len(reports)} reports ({labelled} labelled, {len(reports) - labelled} about none)")


if __name__ == "__main__":
    main()
