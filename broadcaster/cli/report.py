"""``broadcaster report submit``: what a support desk or form would send."""

import click

from broadcaster.cli.context import CliContext, pass_cli, refusing_bad_input
from broadcaster.services import commands


@click.group()
def report() -> None:
    """Bug reports."""


@report.command()
@click.option("--email", "-e", required=True, help="The reporter's address.")
@click.option("--name", "-n", required=True, help="The reporter's name, as they signed.")
@click.option("--text", "-t", required=True, help="What they wrote.")
@click.option("--component", "-c", help="The part of the product, if the form asked.")
@click.option("--source", default="cli", show_default=True)
@pass_cli
def submit(cli: CliContext, email: str, name: str, text: str, component: str | None, source: str) -> None:
    """Publish one bug report to the bug-reports topic."""
    with refusing_bad_input():
        event = commands.submit_report(cli, email, name, text, component, source)
    click.echo(f"Report {event.report_id} from {event.email} submitted.")
