"""The CLI's view of the engineers' desk (services/desk.py): the same commands, notes on stderr.

A :class:`CommandFailed` raised under a command becomes click's one-line error
(``LazyGroup.invoke`` in cli/main.py).
"""

from collections.abc import Iterator
from contextlib import contextmanager

import click

from broadcaster.services.desk import Desk
from broadcaster.wire.errors import InvalidMessage


class CliContext(Desk):
    def __init__(self) -> None:
        super().__init__(notify=lambda text: click.echo(text, err=True))


@contextmanager
def refusing_bad_input() -> Iterator[None]:
    """Input that breaks the input rules ends the command with the reason and exit status 1, unsent."""
    try:
        yield
    except InvalidMessage as error:
        raise click.ClickException(f"not sent: {error}") from None


pass_cli = click.make_pass_decorator(CliContext, ensure=True)
