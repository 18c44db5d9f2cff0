"""Linking measured on real reports: cross-validated, held out, and every alternative beside the choice.

    python bench/linking_real.py [--json]

- **dev, cross-validated by product**: for each of the 11 products of the real corpus's dev
  split, the model is fitted and the link threshold chosen (for precision 0.95) on the other
  ten products and the synthetic corpus, then the product's reports are replayed.
- **synthetic, cross-validated by component**: the same for the synthetic corpus, with the
  real dev split always in training.
- **holdout**: fitted and thresholds chosen on dev + synthetic (what ships), replayed on the
  holdout split (PowerToys, devhome, winget-cli), which nothing was chosen on.

Variants leave out feature families or learning, each measured the same way. Figures:
precision and recall of automatic links, triage share, how often the first suggestion
was right for labelled reports sent to triage, and the magnet share (the largest share
of wrong links that went to a single incident).
"""

import argparse
import json
import time
from pathlib import Path

from broadcaster.linking import training
from broadcaster.linking.evaluation import Result, cross_validate, evaluate, examples, fit_for, load_corpus
from broadcaster.linking.matcher import Matcher, Thresholds

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
TARGET = 0.95
VARIANTS: dict[str, tuple[tuple[str, ...], bool]] = {  # name: (features left out, learn from automatic links)
    "chosen: all features, learning": ((), True),
    "without learning from automatic links": ((), False),
    "without remembered reports (near)": (("near", "near_gap"), True),
    "without leads over the next incident (gaps)": (("text_gap", "title_gap", "near_gap"), True),
    "without error signatures and versions": (("signature", "versions"), True),
    "words only (no character n-grams, no title)": (("text", "title", "text_gap", "title_gap"), True),
    "characters only (no word n-grams, no near)": (("words", "near", "near_gap"), True),
}


def figures(result: Result) -> dict:
    keep = ("precision", "recall", "triage_share", "first_suggestion_right", "magnet_share", "linked", "labelled")
    return {k: v for k, v in result.as_dict().items() if k in keep}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--variants", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    started = time.perf_counter()
    synthetic, dev, holdout = (load_corpus(DATA / "linking"), load_corpus(DATA / "linking_real" / "dev"),
                               load_corpus(DATA / "linking_real" / "holdout"))
    synthetic_pairs = training.replay_pairs(synthetic[0], examples(synthetic[1]))
    dev_pairs = training.replay_pairs(dev[0], examples(dev[1]))
    table = {}
    for name, (ignore, learn) in (VARIANTS if args.variants else dict(list(VARIANTS.items())[:1])).items():
        row = {}
        result, _ = cross_validate(*dev, also_train_on=[synthetic_pairs], target_precision=TARGET, learn=learn,
                                   ignore=ignore)
        row["dev_cross_validated"] = figures(result)
        result, _ = cross_validate(*synthetic, also_train_on=[dev_pairs], target_precision=TARGET, learn=learn,
                                   ignore=ignore)
        row["synthetic_cross_validated"] = figures(result)
        coefficients, thresholds = fit_for([dev_pairs, synthetic_pairs], TARGET, Thresholds(), ignore)
        row["holdout"] = figures(evaluate(Matcher(thresholds, coefficients), *holdout, learn=learn))
        row["holdout_link_threshold"] = thresholds.link
        table[name] = row
    table["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps(table))
        return
    for name, row in table.items():
        if name == "seconds":
            continue
        print(name)
        for part in ("dev_cross_validated", "synthetic_cross_validated", "holdout"):
            f = row[part]
            print(f"  {part:<26} precision {f['precision']:.3f}  recall {f['recall']:.3f}  triage {f['triage_share']:.3f}"
                  f"  first suggestion right {f['first_suggestion_right']:.3f}  magnet {f['magnet_share']:.2f}")
    print(f"{table['seconds']} s")


if __name__ == "__main__":
    main()
