"""``broadcaster api-keys``: the keys the intake API accepts (``broadcaster serve``)."""

import click

from broadcaster.bootstrap import utc_now
from broadcaster.cli.context import CliContext, pass_cli
from broadcaster.services import api_keys as keys
from broadcaster.storage.database import transaction


@click.group("api-keys")
def api_keys() -> None:
    """Keys for the intake API: create (shown once), list, revoke."""


@api_keys.command()
@click.argument("name")
@pass_cli
def create(cli: CliContext, name: str) -> None:
    """Make a key called NAME and print it: the only time it is shown (only its hash is kept)."""
    with transaction(cli.services.sessions) as session:
        token = keys.create(session, name, utc_now())
    click.echo(token)
    click.echo(f"API key {name!r} created; it is not shown again.", err=True)


@api_keys.command("list")
@pass_cli
def list_keys(cli: CliContext) -> None:
    """Every key: its name, when it was made and, if so, revoked."""
    for key in cli.read(keys.listed):
        revoked = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "live"
        click.echo(f"{key.name}\tcreated {key.created_at:%Y-%m-%d %H:%M}\t{revoked}")


@api_keys.command()
@click.argument("name")
@pass_cli
def revoke(cli: CliContext, name: str) -> None:
    """Stop accepting the key called NAME, at once."""
    with transaction(cli.services.sessions) as session:
        earlier = keys.revoke(session, name, utc_now())
    click.echo(f"API key {name!r} was already revoked on {earlier:%Y-%m-%d %H:%M} UTC." if earlier
               else f"API key {name!r} revoked.")
