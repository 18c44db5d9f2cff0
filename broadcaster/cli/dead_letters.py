"""``broadcaster dead-letters``: messages no processor could use, kept in the database: read, replay, purge."""

import base64
from collections.abc import Callable
from typing import TypeVar

import click

from broadcaster.bootstrap import utc_now
from broadcaster.cli.context import CliContext, pass_cli
from broadcaster.cli.terminal import printable
from broadcaster.cli.types import ROW_ID
from broadcaster.services import dead_letters as service
from broadcaster.storage.database import transaction
from broadcaster.storage.models import StoredDeadLetter

T = TypeVar("T")


@click.group("dead-letters")
def dead_letters() -> None:
    """Messages no processor could use: why, what they held, and sending them again after a fix."""


def _refusing(action: Callable[[], T]) -> T:
    try:
        return action()
    except service.DeadLetterError as error:
        raise click.ClickException(str(error)) from None


def _one_line(text: str, width: int) -> str:
    text = " ".join(printable(text).split())
    return text if len(text) <= width else text[: width - 3] + "..."


@dead_letters.command("list")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000),
              help="Show at most this many, the newest.")
@pass_cli
def list_letters(cli: CliContext, limit: int) -> None:
    """One line each: id, when, topic, reason (replayed ones say so)."""
    rows, total = cli.read(lambda s: service.latest(s, limit))
    if not rows:
        click.echo("No dead letters.")
        return
    if total > len(rows):
        click.echo(f"({total - len(rows)} older ones not shown; --limit shows more)")
    for row in rows:
        replayed = f"[replayed {row.replayed_at:%m-%d %H:%M}] " if row.replayed_at else ""
        click.echo(f"{row.id:>6}  {row.created_at:%Y-%m-%d %H:%M:%S}  {row.topic:<32} "
                   f"{replayed}{_one_line(row.reason, 100)}")


def _original(row: StoredDeadLetter) -> str:
    """The original as text when it is UTF-8 (it nearly always is: JSON), else as base64."""
    try:
        return printable(row.original.decode())
    except UnicodeDecodeError:
        return "(not UTF-8; base64) " + base64.b64encode(row.original).decode()


@dead_letters.command()
@click.argument("letter_id", type=ROW_ID)
@pass_cli
def show(cli: CliContext, letter_id: int) -> None:
    """The reason LETTER_ID was dead-lettered, where it came from, and the original message."""
    row = cli.read(lambda s: _refusing(lambda: service.find(s, letter_id)))
    click.echo(f"Dead letter {row.id}: {row.topic}[{row.partition}]@{row.offset}, by {row.processor}, "
               f"at {row.created_at:%Y-%m-%d %H:%M:%S} UTC")
    click.echo(f"Key: {printable(row.key.decode(errors='replace')) if row.key is not None else '(none)'}")
    click.echo(f"Replayed: {f'{row.replayed_at:%Y-%m-%d %H:%M:%S} UTC' if row.replayed_at else 'no'}")
    click.echo(f"Reason: {printable(row.reason)}")
    cut = f", the first {len(row.original):,} kept" if row.original_size > len(row.original) else ""
    click.echo(f"Original ({row.original_size:,} bytes{cut}):")
    click.echo(_original(row))


@dead_letters.command()
@click.argument("letter_id", type=ROW_ID)
@pass_cli
def replay(cli: CliContext, letter_id: int) -> None:
    """Publish LETTER_ID's original to its topic again (after fixing what was wrong) and mark it replayed."""
    topic = cli.read(lambda s: _refusing(lambda: service.find(s, letter_id)).topic)
    _refusing(lambda: cli.accept(lambda s: service.replay(s, letter_id, utc_now())))
    click.echo(f"Dead letter {letter_id} replayed onto {topic}.")


@dead_letters.command()
@click.option("--all", "everything", is_flag=True, help="Every dead letter, replayed or not (asks first).")
@pass_cli
def purge(cli: CliContext, everything: bool) -> None:
    """Delete the dead letters that were replayed (or, with --all, every one)."""
    if everything:
        click.confirm("Delete every dead letter, including those never replayed?", abort=True)
    with transaction(cli.services.sessions) as session:
        deleted = service.purge(session, everything=everything)
    click.echo(f"Deleted {deleted} dead letter(s).")
