"""``broadcaster deliveries``: emails that failed or died, and sending them again."""

import click

from broadcaster.cli.context import CliContext, pass_cli
from broadcaster.services import delivery_trouble, ledger
from broadcaster.storage.database import transaction


@click.group(invoke_without_command=True)
@click.option("--dead-only", is_flag=True, help="Only deliveries that will not be retried by themselves.")
@click.pass_context
def deliveries(ctx: click.Context, dead_only: bool) -> None:
    """Stuck deliveries (their sender stopped), failed ones (retried by the worker) and dead ones (given up on)."""
    if ctx.invoked_subcommand is not None:
        return
    cli = ctx.ensure_object(CliContext)
    now, lease = cli.services.clock(), cli.settings.delivery_lease
    rows = cli.read(lambda s: delivery_trouble.troubled(s, now=now, lease=lease, dead_only=dead_only))
    if not rows:
        click.echo("No stuck, failed or dead deliveries.")
        return
    click.echo(f"{'ID':>8} {'STATE':<7} {'INCIDENT':<16} {'KIND':<16} {'TRIES':>5} {'TO':<32} LAST ERROR")
    for row in rows:
        state = delivery_trouble.state_shown(row, now=now, lease=lease)
        error = row.last_error or ("its sender stopped mid-send; the sweep will retry it" if state == "stuck" else "")
        about, to = delivery_trouble.addressed(row)
        click.echo(f"{row.id:>8} {state:<7} {about:<16} {row.kind:<16} {row.attempts:>5} "
                   f"{to:<32} {' '.join(error.split())[:90]}")


@deliveries.command()
@click.option("--incident", "incident_id", help="Only this incident's deliveries.")
@click.option("--include-failed", is_flag=True, help="Also those still being retried (default: dead only).")
@pass_cli
def retry(cli: CliContext, incident_id: str | None, include_failed: bool) -> None:
    """Send dead deliveries again (after fixing what killed them)."""
    states = ("failed", "dead") if include_failed else ("dead",)
    with transaction(cli.services.sessions) as session:
        ids = ledger.requeue(session, states, now=cli.services.clock(), incident_id=incident_id)
    for key, value in ledger.announcements(ids):
        cli.publish(cli.topics.deliveries, key, value)
    click.echo(f"{len(ids)} deliveries queued again." if ids else "Nothing to retry.")
