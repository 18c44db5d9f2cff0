"""``broadcaster linking eval``: measure the matcher on labelled reports, offline."""

import json
from pathlib import Path

import click

from broadcaster.cli.context import CliContext, pass_cli
from broadcaster.linking.evaluation import EvaluationInputError, evaluate, load_incidents, load_reports
from broadcaster.linking.matcher import Matcher, Thresholds

existing_file = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def linking() -> None:
    """How well reports are linked to incidents."""


@linking.command("eval")
@click.option("--incidents", "incidents_path", type=existing_file, required=True,
              help="JSON Lines, one incident a line (schemas/linking-eval-incident.v1.json).")
@click.option("--reports", "reports_path", type=existing_file, required=True,
              help="JSON Lines, one labelled report a line (schemas/linking-eval-report.v1.json).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write each report's decision here (JSON Lines).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the figures.")
@pass_cli
def evaluate_command(cli: CliContext, incidents_path: Path, reports_path: Path, out: Path | None, as_json: bool) -> None:
    """Replay labelled reports through the matcher the stream processor uses; print precision and recall."""
    settings = cli.settings
    matcher = Matcher(Thresholds(settings.link_threshold, settings.suggest_threshold, settings.link_margin),
                      backlog_window=settings.link_backlog_window)
    try:
        result = evaluate(matcher, load_incidents(incidents_path), load_reports(reports_path))
    except EvaluationInputError as error:
        raise click.ClickException(str(error)) from None
    if out:
        out.write_text("".join(json.dumps(d) + "\n" for d in result.decisions))
    figures = result.as_dict()
    if as_json:
        click.echo(json.dumps(figures))
        return
    click.echo(f"reports {figures['reports']} ({figures['labelled']} about a known incident)")
    click.echo(f"automatic links: {figures['linked']}, precision {figures['precision']:.3f}, "
               f"recall {figures['recall']:.3f}, F1 {figures['f1']:.3f}")
    click.echo(f"sent to triage: {figures['suggested']} ({figures['triage_share']:.1%}), "
               f"{figures['suggested_correct']} with the right suggestion; left unlinked: {figures['unlinked']}")
    for confusion in figures["confusions"][:10]:
        click.echo(f"  {confusion['count']} x about {confusion['label']} linked to {confusion['linked_to']}")
