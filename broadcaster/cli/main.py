"""Entry point: ``broadcaster --help``.

Each command's module is imported only when that command runs (or its own ``--help`` is
asked for): ``broadcaster --help`` imports click and nothing else of weight, and
``broadcaster incident list`` never loads scikit-learn, Faust or a Kafka client.
"""

import gc
import importlib
import logging
from collections.abc import Mapping
from typing import Any

import click

COMMANDS: Mapping[str, tuple[str, str]] = {
    "api-keys": ("broadcaster.cli.api_keys:api_keys", "Keys for the intake API: create (shown once), list, revoke."),
    # name: (module:attribute, the first sentence of its help, as `broadcaster --help` lists it).
    # tests/unit/test_cli_lazy.py fails, with the sentence to put here, when a command's help changes.
    "db": ("broadcaster.cli.system:db", "The database schema (Alembic migrations)."),
    "dead-letters": ("broadcaster.cli.dead_letters:dead_letters",
                     "Messages no processor could use: why, what they held, and sending them again after a fix."),
    "deliveries": ("broadcaster.cli.deliveries:deliveries",
                   "Stuck deliveries (their sender stopped), failed ones (retried by the worker) and dead ones "
                   "(given up on)."),
    "demo": ("broadcaster.cli.demo:demo",
             "Play the CSV-upload story: reports, declaration, update, resolution, a late report."),
    "incident": ("broadcaster.cli.incident:incident", "Declare, update, resolve, reopen and inspect incidents."),
    "lag": ("broadcaster.cli.lag:lag",
            "Committed offset, log end, lag in messages and seconds, and a Burrow-style status per group."),
    "linking": ("broadcaster.cli.linking:linking", "How well reports are linked to incidents."),
    "report": ("broadcaster.cli.report:report", "Bug reports."),
    "serve": ("broadcaster.cli.serve:serve",
              "Serve the intake API: POST /v1/reports, GET /v1/reports/{id}, the OpenAPI document at /docs."),
    "status": ("broadcaster.cli.status:status", "Is the system healthy? Exits 1 when any check fails."),
    "subscribers": ("broadcaster.cli.incident:subscribers",
                    "Who will hear about INCIDENT_ID, and since when; then who no longer will, since when and why."),
    "triage": ("broadcaster.cli.triage:triage",
               "What waits for an engineer: suggestions, unlinked reports, suspected incidents."),
    "up": ("broadcaster.cli.system:up", "Start everything and keep it up until Ctrl-C (or SIGTERM)."),
}


def load_command(target: str) -> click.Command:
    """The command at ``module:attribute``, importing its module.

    Imports make hundreds of thousands of objects (SQLAlchemy and pydantic above all) that
    live as long as the process, and almost no garbage. So the cyclic garbage collector is
    off while they run, and what they made is frozen (``gc.freeze``): no later collection
    walks it again, nor the one at exit. Together that is a quarter of the start of
    ``broadcaster incident list`` (bench/cli.py).
    """
    module, _, attribute = target.partition(":")
    collecting = gc.isenabled()
    gc.disable()
    try:
        command = getattr(importlib.import_module(module), attribute)
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
    assert isinstance(command, click.Command), target
    return command


class LazyGroup(click.Group):
    """A group that imports a command's module on first use and lists its commands from a table."""

    def __init__(self, *args: Any, lazy_commands: Mapping[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            self.add_command(load_command(self.lazy_commands[cmd_name][0]), cmd_name)
        return super().get_command(ctx, cmd_name)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if ctx.parent is None:  # the whole command line, once
            _refuse_undecodable(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        """A command that fails in words a person acts on (the desk's CommandFailed) ends with them, exit 1."""
        from broadcaster.cli.terminal import printable  # not for --help, which loads nothing of ours
        from broadcaster.services.errors import CommandFailed

        try:
            return super().invoke(ctx)
        except CommandFailed as error:  # it may quote what was typed
            raise click.ClickException(printable(str(error))) from None
        except click.ClickException as error:  # the commands' own refusals too
            error.message = printable(error.message)
            raise

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list, from the table for commands not loaded: the same lines, no imports."""
        shown = {name: self.commands.get(name) or click.Command(name, help=self.lazy_commands[name][1])
                 for name in self.list_commands(ctx)}
        click.Group(self.name, commands=shown).format_commands(ctx, formatter)


def _refuse_undecodable(args: list[str]) -> None:
    """Refuse, by name, an argument that is not UTF-8 (a terminal set to Latin-1, a script's raw bytes).

    Python keeps such bytes as lone surrogates, which no database, broker or mail API takes:
    a report or an incident's text would fail halfway, after it was half accepted.
    """
    if all(arg.isascii() for arg in args):  # nearly always; and ``--help`` imports nothing more of ours
        return
    from broadcaster.domain.undecoded import undecoded_byte

    for position, arg in enumerate(args):
        byte = undecoded_byte(arg)
        if byte is None:
            continue
        if arg.startswith("--") and "=" in arg:
            what = arg.partition("=")[0]
        elif position and args[position - 1].startswith("-"):
            what = f"the value of {args[position - 1]}"
        else:
            what = f"argument {position + 1}"
        raise click.UsageError(f"{what} is not UTF-8 text (byte 0x{byte:02X}): set the terminal to UTF-8 "
                               "(for example LANG=C.UTF-8) or pass UTF-8 bytes; nothing was done")


@click.group(cls=LazyGroup, lazy_commands=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-v", "--verbose", is_flag=True, help="Log what the command does.")
def cli(verbose: bool) -> None:
    """Broadcaster: tell every user who hit an incident what is happening, until it is fixed.

    Settings come from BROADCASTER_* environment variables (see README.md).
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING)
    if not verbose:  # kafka-python logs connection churn on close as errors; the commands report real ones
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
