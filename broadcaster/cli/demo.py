"""``broadcaster demo``: play the CSV-upload story against the running system and check every email."""

import click

from broadcaster.cli.context import CliContext, pass_cli
from broadcaster.demo.story import DemoFailed, play
from broadcaster.embedded.runtime import running_system as system_running_here
from broadcaster.embedded.supervisor import StartupError, running_system
from broadcaster.storage.database import shown_url


@click.command()
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for each step.")
@pass_cli
def demo(cli: CliContext, timeout: float) -> None:
    """Play the CSV-upload story: reports, declaration, update, resolution, a late report.

    Uses the system started by `broadcaster up` (or the configured Kafka cluster);
    when none runs, starts an embedded one for the length of the demo. Exits 0 only
    if every reporter got exactly the emails they should.
    """
    running = system_running_here(cli.settings)
    try:
        if cli.settings.kafka_bootstrap:
            play(cli, timeout)
        elif running:
            click.echo(f"Using the system `broadcaster up` runs from this folder (pid {running.supervisor_pid}).")
            play(cli, timeout)
        else:
            click.echo("No running system found here; starting an embedded one for the demo...")
            with running_system(cli.settings) as system:
                click.echo(f"  broker {system.bootstrap}, database {shown_url(cli.settings.database_url)}")
                cli.bootstrap_servers = system.bootstrap
                play(cli, timeout)
    except StartupError as error:
        raise click.ClickException(f"cannot start a system for the demo: {error}") from None
    except DemoFailed as error:
        raise click.ClickException(f"demo failed: {error}") from None
