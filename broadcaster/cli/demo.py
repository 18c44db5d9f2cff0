"""``broadcaster demo``: play the CSV-upload story against the running system and check every email."""

import click

from broadcaster.cli.context import CliContext, pass_cli
from broadcaster.demo.story import DemoFailed, play
from broadcaster.embedded.broker import BrokerError
from broadcaster.embedded.runtime import running_system as system_running_here
from broadcaster.embedded.system import StartupError, running_system


@click.command()
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for each step.")
@pass_cli
def demo(cli: CliContext, timeout: float) -> None:
    """Play the CSV-upload story: reports, declaration, update, resolution, a late report.

    Uses the system started by `broadcaster up` (or the configured Kafka cluster);
    when none runs, starts an embedded one for the length of the demo. Exits 0 only
    if every reporter got exactly the emails they should.
    """
    try:
        if cli.settings.kafka_bootstrap or system_running_here(cli.settings):
            play(cli, timeout)
        else:
            click.echo("No running system found here; starting an embedded one for the demo...")
            with running_system(cli.settings) as system:
                click.echo(f"  broker {system.kafka_bootstrap}, database {system.database_url}, {system.mail}")
                cli.bootstrap_servers = system.kafka_bootstrap
                play(cli, timeout)
    except (StartupError, BrokerError) as error:
        raise click.ClickException(str(error)) from None
    except DemoFailed as error:
        raise click.ClickException(f"demo failed: {error}") from None
