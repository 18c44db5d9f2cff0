"""``broadcaster linking eval``: measure the matcher on labelled reports, offline."""

import json
from pathlib import Path
from typing import Any

import click

from broadcaster.cli.context import CliContext, pass_cli
from broadcaster.linking import training
from broadcaster.linking.evaluation import (
    EvaluationInputError,
    Result,
    cross_validate,
    evaluate,
    examples,
    load_corpus,
    load_incidents,
    load_reports,
)
from broadcaster.linking.matcher import Matcher, Thresholds

existing_file = click.Path(exists=True, dir_okay=False, path_type=Path)
corpus_folder = click.Path(exists=True, file_okay=False, path_type=Path)


@click.group()
def linking() -> None:
    """How well reports are linked to incidents."""


@linking.command("eval")
@click.option("--incidents", "incidents_path", type=existing_file, required=True,
              help="JSON Lines, one incident a line (schemas/linking-eval-incident.v1.json).")
@click.option("--reports", "reports_path", type=existing_file, required=True,
              help="JSON Lines, one labelled report a line (schemas/linking-eval-report.v1.json).")
@click.option("--cross-validate", "folds", is_flag=True,
              help="Leave one component out at a time: fit the model and choose the link threshold on the "
                   "others, measure on it. Without it, the shipped model and the configured thresholds.")
@click.option("--also-train-on", "extra", type=corpus_folder, multiple=True,
              help="With --cross-validate: a folder (incidents.jsonl, reports.jsonl) always in the training folds.")
@click.option("--target-precision", default=0.95, show_default=True,
              help="With --cross-validate: the precision the link threshold is chosen for, on the training folds.")
@click.option("--no-learning", is_flag=True, help="Do not learn from automatic links (to measure what learning does).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write each report's decision here (JSON Lines).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the figures.")
@pass_cli
def evaluate_command(cli: CliContext, incidents_path: Path, reports_path: Path, folds: bool, extra: tuple[Path, ...],
                     target_precision: float, no_learning: bool, out: Path | None, as_json: bool) -> None:
    """Replay labelled reports through the matcher the stream processor uses; print precision and recall."""
    settings = cli.settings
    thresholds = Thresholds(settings.link_threshold, settings.suggest_threshold, settings.link_margin)
    try:
        incidents, reports = load_incidents(incidents_path), load_reports(reports_path)
        if folds:
            also = [training.replay_pairs(i, examples(r)) for i, r in (load_corpus(folder) for folder in extra)]
            result, chosen = cross_validate(incidents, reports, also_train_on=also, target_precision=target_precision,
                                            defaults=thresholds, learn=not no_learning)
        else:
            matcher = Matcher(thresholds, backlog_window=settings.link_backlog_window)
            result, chosen = evaluate(matcher, incidents, reports, learn=not no_learning), {}
    except EvaluationInputError as error:
        raise click.ClickException(str(error)) from None
    if out:
        out.write_text("".join(json.dumps(d) + "\n" for d in result.decisions))
    figures = result.as_dict() | ({"link_threshold_by_fold": {g: t.link for g, t in chosen.items()}} if folds else {})
    if as_json:
        click.echo(json.dumps(figures))
        return
    _print(figures, result)


def _print(figures: dict[str, Any], result: Result) -> None:
    click.echo(f"reports {figures['reports']} ({figures['labelled']} about a known incident)")
    click.echo(f"automatic links: {figures['linked']}, precision {figures['precision']:.3f}, "
               f"recall {figures['recall']:.3f}, F1 {figures['f1']:.3f}")
    click.echo(f"sent to triage: {figures['suggested']} ({figures['triage_share']:.1%}); the first suggestion was right "
               f"for {result.suggested_correct} of {result.suggested_labelled} labelled ones "
               f"({figures['first_suggestion_right']:.1%}); left unlinked: {figures['unlinked']}")
    if "link_threshold_by_fold" in figures:
        click.echo("link threshold chosen per held-out component: "
                   + ", ".join(f"{g} {t:.2f}" for g, t in figures["link_threshold_by_fold"].items()))
    for confusion in figures["confusions"][:10]:
        click.echo(f"  {confusion['count']} x about {confusion['label']} linked to {confusion['linked_to']}")
