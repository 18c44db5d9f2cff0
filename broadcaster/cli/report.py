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
@click.option("--time-zone", help="Where the reporter is (IANA name, e.g. Asia/Manila): their emails give times in it.")
@click.option("--locale", help="The reporter's conventions for dates and times, e.g. en_US, en-GB, pt_BR.")
@pass_cli
def submit(cli: CliContext, email: str, name: str, text: str, component: str | None, source: str,
           time_zone: str | None, locale: str | None) -> None:
    """Publish one bug report to the bug-reports topic."""
    with refusing_bad_input():
        event = commands.submit_report(cli, email, name, text, component, source, time_zone, locale)
    click.echo(f"Report {event.report_id} from {event.email} submitted.")
