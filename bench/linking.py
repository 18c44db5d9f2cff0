"""Linking throughput and memory: reports decided per second against 1,000 open incidents, on one core.

    python bench/linking.py [--incidents 1000] [--reports 20000] [--batch 200] [--json]

Incidents are generated (components x failures x objects), each with 20 reports already
learned (the most the matcher keeps), so every feature is computed; reports are the real
corpus's dev split (tests/data/linking_real), repeated, with no component given (every
incident is a candidate: the worst case). Measures batched decisions (how the processor
calls it) and one-at-a-time decisions; prints
medians of 5 runs, and the process's peak memory.
"""

import argparse
import itertools
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from broadcaster.linking.evaluation import load_reports
from broadcaster.linking.matcher import IncidentProfile, Matcher, ReportText

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "linking_real" / "dev" / "reports.jsonl"
LEARNED = 20
COMPONENTS = ["groups", "billing", "auth", "messaging", "search", "uploads", "notifications", "profile",
              "mobile-app", "api", "calendar", "payments", "export", "admin", "reports", "integrations"]
FAILURES = ["fails with error 500", "times out", "shows a blank page", "is very slow", "loses data",
            "sends duplicates", "rejects valid input", "crashes the app", "shows the wrong totals",
            "never completes", "returns 403 forbidden", "is stuck in a loop"]
OBJECTS = ["CSV import", "invitation email", "password reset", "invoice download", "photo upload",
           "search results page", "push notification", "calendar sync", "PDF export", "webhook delivery",
           "two-factor code", "member list", "chat message", "refund request", "API token", "dark mode"]


def incidents(count: int) -> list[IncidentProfile]:
    combos = itertools.islice(itertools.product(OBJECTS, FAILURES, COMPONENTS), count)
    return [
        IncidentProfile(f"INC-{n:05d}", f"{obj.capitalize()} {failure}", component,
                        f"Customers report that the {obj} {failure} in {component}.", (obj.lower(),))
        for n, (obj, failure, component) in enumerate(combos)
    ]


def reports(count: int) -> list[ReportText]:
    corpus = [ReportText(item.report.text) for item in load_reports(CORPUS)]
    return list(itertools.islice(itertools.cycle(corpus), count))


def rate(run, items: int, repeats: int = 5) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return items / statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--reports", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    matcher = Matcher()
    candidates = incidents(args.incidents)
    matcher.set_incidents(candidates)
    texts = reports(args.reports)
    matcher.learn_many([(i.incident_id, texts[(n * LEARNED + k) % len(texts)].text)
                        for n, i in enumerate(candidates) for k in range(LEARNED)])
    matcher.decide_many(texts[:10])  # build the index outside the timing

    def batched() -> None:
        for start in range(0, len(texts), args.batch):
            matcher.decide_many(texts[start : start + args.batch])

    single = texts[:2000]
    figures = {
        "incidents": args.incidents,
        "reports": len(texts),
        "batch": args.batch,
        "batched_reports_per_second": round(rate(batched, len(texts))),
        "single_reports_per_second": round(rate(lambda: [matcher.decide(t) for t in single], len(single))),
        "cores": 1,
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "target_reports_per_second": 1000,
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>28}: {value}")
    sys.exit(0)


if __name__ == "__main__":
    main()
