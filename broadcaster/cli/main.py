"""Entry point: ``broadcaster --help``."""

import logging

import click

from broadcaster.cli import deliveries, demo, incident, lag, linking, report, status, system, triage


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-v", "--verbose", is_flag=True, help="Log what the command does.")
def cli(verbose: bool) -> None:
    """Broadcaster: tell every user who hit an incident what is happening, until it is fixed.

    Settings come from BROADCASTER_* environment variables (see README.md).
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING)
    if not verbose:  # kafka-python logs connection churn on close as errors; the commands report real ones
        logging.getLogger("kafka").setLevel(logging.CRITICAL)


cli.add_command(system.up)
cli.add_command(system.db)
cli.add_command(incident.incident)
cli.add_command(incident.subscribers)
cli.add_command(report.report)
cli.add_command(demo.demo)
cli.add_command(triage.triage)
cli.add_command(linking.linking)
cli.add_command(lag.lag)
cli.add_command(status.status)
cli.add_command(deliveries.deliveries)
