"""``broadcaster up`` and ``broadcaster db``: run the system, manage the schema."""

import click
from sqlalchemy.exc import OperationalError

from broadcaster.cli.context import CliContext, pass_cli
from broadcaster.embedded.runtime import running_system as system_running_here
from broadcaster.embedded.supervisor import BrokerLost, StartupError, supervise
from broadcaster.storage.database import driver_reason, shown_url, upgrade


@click.command()
@pass_cli
def up(cli: CliContext) -> None:
    """Start everything and keep it up until Ctrl-C (or SIGTERM).

    Applies migrations, starts the embedded Kafka-compatible broker unless
    BROADCASTER_KAFKA_BOOTSTRAP is set, creates the topics and runs a worker with
    every stream processor. Restarts the worker if it dies, and the embedded broker
    (then the worker) if it does; stops the worker first, then the broker.
    """
    settings = cli.settings
    running = system_running_here(settings)
    if running:
        raise click.ClickException(
            f"Broadcaster is already running from this folder ({settings.state_dir}, pid {running.supervisor_pid})"
        )
    try:
        supervise(settings, click.echo)
    except (StartupError, BrokerLost) as error:
        raise click.ClickException(str(error)) from None


@click.group()
def db() -> None:
    """The database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@pass_cli
def db_upgrade(cli: CliContext, revision: str) -> None:
    """Apply migrations up to REVISION."""
    url = cli.settings.database_url
    try:
        upgrade(url, revision)
    except OperationalError as error:
        raise click.ClickException(f"cannot migrate the database at {shown_url(url)}: {driver_reason(error)}") from None
    click.echo(f"{shown_url(url)} is at {revision}")
