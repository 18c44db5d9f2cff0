"""``broadcaster up`` and ``broadcaster db``: run the system, manage the schema."""

import signal
import threading

import click

from broadcaster.cli.context import CliContext, pass_cli
from broadcaster.embedded.broker import BrokerError
from broadcaster.embedded.runtime import running_system as system_running_here
from broadcaster.embedded.system import StartupError, running_system
from broadcaster.storage.database import upgrade


@click.command()
@pass_cli
def up(cli: CliContext) -> None:
    """Start everything and keep running until Ctrl-C.

    Applies migrations, starts the embedded Kafka-compatible broker unless
    BROADCASTER_KAFKA_BOOTSTRAP is set, creates the topics and runs a worker with
    every stream processor.
    """
    settings = cli.settings
    if system_running_here(settings):
        raise click.ClickException(f"Broadcaster is already running from this folder ({settings.state_dir})")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    click.echo("Starting Broadcaster...")
    try:
        with running_system(settings) as system:
            broker = "embedded broker" if system.embedded_broker else "Kafka cluster"
            click.echo(f"  Kafka:     {system.kafka_bootstrap} ({broker})")
            click.echo(f"  Database:  {system.database_url}")
            click.echo(f"  Email:     {system.mail}")
            click.echo(f"  Worker:    pid {system.worker_pid}, log {system.worker_log}")
            click.echo(f"  Topics:    {settings.topic_prefix}*")
            click.echo("Broadcaster is running. Try `broadcaster demo` in another terminal. Ctrl-C stops it.")
            stop.wait()
            click.echo("Stopping...")
    except (StartupError, BrokerError) as error:
        raise click.ClickException(str(error)) from None
    click.echo("Stopped.")


@click.group()
def db() -> None:
    """The database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@pass_cli
def db_upgrade(cli: CliContext, revision: str) -> None:
    """Apply migrations up to REVISION."""
    upgrade(cli.settings.database_url, revision)
    click.echo(f"{cli.settings.database_url} is at {revision}")
