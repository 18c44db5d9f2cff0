"""``broadcaster incident affected``: tell the people the engineers know were affected, not only those who wrote."""

import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import IO, TYPE_CHECKING, Any

import click

from broadcaster.cli.context import CliContext, pass_cli
from broadcaster.domain.affected import BadHeader, RefusedRow

if TYPE_CHECKING:  # the import itself loads the Kafka client: only when the command runs
    from broadcaster.services.importing import AffectedImport


def _size(stream: IO[str]) -> int | None:
    """The file's size in bytes, for the progress bar; None for a pipe (standard input)."""
    if not stream.seekable():
        return None
    size = stream.seek(0, 2)
    stream.seek(0)
    return size


def _counted(stream: IO[str], advance: Callable[[int], None], every: int = 1000) -> Iterator[str]:
    """The file's lines, moving the progress bar by the bytes they took, every ``every`` lines and at the end.

    Not every line: on a terminal each move redraws the bar, which cost more than reading the line.
    """
    read = lines = 0
    for text in stream:
        read += len(text) if text.isascii() else len(text.encode(errors="surrogateescape"))  # isascii(): a flag
        lines += 1
        if lines == every:
            advance(read)
            read = lines = 0
        yield text
    advance(read)


def _refused(row: RefusedRow) -> None:
    click.echo(f"\nline {row.line}: {row.reason}; row skipped", err=True)


def _lines_read(tally: "AffectedImport") -> None:
    click.echo(f"\r{tally.lines:,} lines read", err=True, nl=False)


@click.command()
@click.argument("incident_id")
@click.option("--csv", "csv_file", required=True,
              type=click.File("r", encoding="utf-8-sig", errors="surrogateescape", lazy=False),  # domain/affected.py
              help="The people: a header row naming email, name and optionally time_zone and locale; - reads stdin.")
@click.option("--batch-size", type=click.IntRange(1, 10_000),
              help="People committed together, in one transaction  [default: 5,000 on PostgreSQL, 1,000 on SQLite]")
@pass_cli
@click.pass_context
def affected(ctx: click.Context, cli: CliContext, incident_id: str, csv_file: IO[str], batch_size: int | None) -> None:
    """Add the people of a CSV who were affected by INCIDENT_ID: each gets its latest news, then every update.

    Each row is checked by the same rules as a report; a row that breaks them is named by
    its line and skipped. Addresses already subscribed (reporters, earlier imports) and
    suppressed ones (they asked for no email, or bounced) are counted and left alone.
    Exit status 1 when a row was refused (every other row is imported all the same).
    """
    from broadcaster.services import importing

    size = _size(csv_file)
    bar: AbstractContextManager[Any] = (click.progressbar(length=size, label="Importing", file=sys.stderr)
                                        if size else nullcontext())
    with bar as progress:
        lines = _counted(csv_file, progress.update) if progress else csv_file
        try:
            tally = importing.add_affected(cli, incident_id, lines, batch_size=batch_size, on_refused=_refused,
                                          on_batch=(lambda _tally: None) if progress else _lines_read)
        except BadHeader as error:
            raise click.ClickException(f"nothing imported: {error}") from None
    click.echo(f"{incident_id}: {tally.added:,} affected people added; each will get the latest news, then every update.")
    click.echo(f"  already subscribed: {tally.already_subscribed:,} (reporters, earlier imports, repeats in this file)")
    click.echo(f"  suppressed: {tally.suppressed:,} (they asked for no email from us, or their address bounced)")
    if tally.refused:
        click.echo(f"  refused: {tally.refused:,} row(s), each named by its line above; every other row was imported")
        ctx.exit(1)
