"""Build the real linking corpus from the collected parts (python tests/data/linking_real/build.py).

Each part (``parts/part_*.jsonl``) was collected from public GitHub issue threads: an
incident is a canonical issue that maintainers pointed other issues to, a labelled
report is an issue a maintainer or bot marked as its duplicate (the quote is kept in
``evidence``), a negative is a report from the same products about something else.
Incident titles and descriptions were written for this corpus, as an engineer would
declare them; report texts are the reporters' own words, trimmed.

Parts a-d are the development set (tuning and cross-validation); parts e and f are
held out: nothing in the matcher is chosen by looking at them.
"""

import json
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
HOLDOUT_PARTS = {"part_e", "part_f"}
KEPT_FOR_INDEPENDENT_CHECK = {"microsoft/vscode", "ytdl-org/youtube-dl", "pypa/pip", "npm/cli", "microsoft/wsl",
                              "docker/for-mac", "atom/atom"}
MAX_TEXT = 1200
INCIDENT_FIELDS = ("incident_id", "title", "component", "description", "repo", "source", "created_at")
REPORT_FIELDS = ("report_id", "text", "component", "label", "repo", "source", "created_at", "evidence")


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _check(incidents: dict[str, dict], reports: list[dict]) -> None:
    ids = Counter(r["report_id"] for r in reports)
    assert not [i for i, n in ids.items() if n > 1], "report ids repeat"
    for item in [*incidents.values(), *reports]:
        assert item["repo"].lower() not in KEPT_FOR_INDEPENDENT_CHECK, item["source"]
    for report in reports:
        assert report["label"] is None or report["label"] in incidents, report["report_id"]
        assert report["text"].strip() and len(report["text"]) <= MAX_TEXT, report["report_id"]


def build(split: str, parts: list[Path]) -> Counter[str]:
    incidents: dict[str, dict] = {}
    reports: list[dict] = []
    for part in parts:
        for line in _lines(part):
            if line["kind"] == "incident":
                incidents[line["incident_id"]] = {key: line.get(key) for key in INCIDENT_FIELDS}
            else:
                reports.append({key: line.get(key) for key in REPORT_FIELDS})
    _check(incidents, reports)
    reports.sort(key=lambda r: (r["created_at"] or "", r["report_id"]))  # replayed in the order they were written
    folder = HERE / split
    folder.mkdir(exist_ok=True)
    (folder / "incidents.jsonl").write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in incidents.values()))
    (folder / "reports.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in reports))
    return Counter(incidents=len(incidents), labelled=sum(r["label"] is not None for r in reports),
                   negatives=sum(r["label"] is None for r in reports),
                   products=len({i["component"] for i in incidents.values()}),
                   repositories=len({r["repo"] for r in reports} | {i["repo"] for i in incidents.values()}))


def main() -> None:
    parts = sorted((HERE / "parts").glob("part_*.jsonl"))
    for split, chosen in (("dev", [p for p in parts if p.stem not in HOLDOUT_PARTS]),
                          ("holdout", [p for p in parts if p.stem in HOLDOUT_PARTS])):
        print(split, dict(build(split, chosen)))


if __name__ == "__main__":
    main()
