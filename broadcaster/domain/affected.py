"""Reading a CSV of people the engineers know were affected: one row at a time, each checked by the input rules.

The file is read as a stream (a million rows never sit in memory); each row becomes an
:class:`AffectedPerson` or a :class:`RefusedRow` naming its line and what is wrong,
never quoting the value (the refusal is printed and may end up in a terminal log).

The text must be UTF-8. Spreadsheets often save CSV in a Windows code page instead, where
"José" holds the byte 0xE9, which is not UTF-8. The file is decoded with ``surrogateescape``
(:mod:`broadcaster.domain.undecoded`), so a row holding such a byte is refused with its line,
and the rest of the file is still imported.
"""

import csv
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from broadcaster.domain import input_rules
from broadcaster.domain.input_rules import InvalidInput
from broadcaster.domain.undecoded import undecoded_byte

if TYPE_CHECKING:
    import _csv

REQUIRED_COLUMNS = ("email", "name")
OPTIONAL_COLUMNS = ("time_zone", "locale")
_COLUMN_ALIASES = {"timezone": "time_zone", "time zone": "time_zone", "tz": "time_zone"}


class BadHeader(ValueError):
    """The header row does not name the columns we need: nothing was read."""


class AffectedPerson(NamedTuple):
    """A checked row. A named tuple, not a dataclass: a million of them cross from the checking
    processes to the writers, and a tuple is made, pickled and unpickled in half the time."""

    line: int
    email: str
    name: str
    time_zone: str | None = None
    locale: str | None = None


class RefusedRow(NamedTuple):
    line: int
    reason: str


def not_utf8(cells: list[str]) -> str | None:
    """Why ``cells`` cannot be read (a byte that is not UTF-8, named in hex), or None."""
    byte = undecoded_byte("".join(cells))
    if byte is None:
        return None
    return f"is not UTF-8 text (byte 0x{byte:02X}): save the file as CSV UTF-8 (in Excel, File > Save As > CSV UTF-8)"


def columns(header: list[str]) -> dict[str, int]:
    """Column name: position, from the header row; raises :class:`BadHeader` for missing or unknown columns."""
    found: dict[str, int] = {}
    for position, raw in enumerate(header):
        column = " ".join(raw.strip().lstrip("\ufeff").lower().split())
        column = _COLUMN_ALIASES.get(column, column)
        if column not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
            raise BadHeader(f"column {position + 1} of the header is not one we know; "
                            f"the columns are {', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}")
        if column in found:
            raise BadHeader(f"the header names the column {column} twice")
        found[column] = position
    missing = [column for column in REQUIRED_COLUMNS if column not in found]
    if missing:
        raise BadHeader(f"the header row has no {' and no '.join(missing)} column; "
                        f"the first row must name the columns ({', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)})")
    return found


def time_zone(value: str) -> str | None:
    """An empty cell is no zone; anything else is checked as a report's ``time_zone`` is."""
    return _cached_zone(value) if len(value) <= _CACHED_CELL else _zone(value)


def locale(value: str) -> str | None:
    """An empty cell is no locale; anything else is checked as a report's ``locale`` is (``pt-BR`` becomes ``pt_BR``)."""
    return _cached_locale(value) if len(value) <= _CACHED_CELL else _locale(value)


def _zone(value: str) -> str | None:
    return input_rules.time_zone(input_rules.optional_line(value, "time_zone"))


def _locale(value: str) -> str | None:
    return input_rules.locale(input_rules.optional_line(value, "locale"))


# A file of a million people has a handful of zones and locales: each cell's answer is kept
# (a refusal is not: it raises, and is checked again next time). Short cells only, so the
# cache stays small whatever the file holds; the checks are pure, so the answers are the same.
_CACHED_CELL = 64
_cached_zone = lru_cache(maxsize=1024)(_zone)
_cached_locale = lru_cache(maxsize=1024)(_locale)


def person(line: int, row: list[str], at: dict[str, int]) -> AffectedPerson:
    """One row, checked by the same rules as a report's reporter; raises InvalidInput."""
    undecoded = not_utf8(row)
    if undecoded:
        raise InvalidInput("row", undecoded)
    if len(row) > len(at):
        raise InvalidInput("row", f"has {len(row)} fields; the header has {len(at)}")

    fields = len(row)

    def cell(column: str) -> str:
        position = at.get(column, fields)
        return row[position] if position < fields else ""

    return AffectedPerson(line, input_rules.email(cell("email")), input_rules.name(cell("name")),
                          time_zone(cell("time_zone")), locale(cell("locale")))


RawRow = tuple[int, list[str]]  # a data row's line number and its cells, not yet checked


def read_rows(lines: Iterable[str]) -> tuple[dict[str, int], Iterator[RawRow | RefusedRow]]:
    """The header's columns, and every non-blank data row of the CSV text ``lines`` (unchecked).

    Raises BadHeader at once if the header is wrong; a row that is not CSV comes out refused.
    """
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise BadHeader("the file is empty; the first row must name the columns (email, name)") from None
    except csv.Error as error:
        raise BadHeader(f"the header row is not CSV ({error})") from None
    undecoded = not_utf8(header)
    if undecoded:
        raise BadHeader(f"the header row {undecoded}")
    return columns(header), _data_rows(reader)


def _data_rows(reader: "_csv.Reader") -> Iterator[RawRow | RefusedRow]:
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield RefusedRow(reader.line_num, f"not CSV ({error})")
            continue
        if any(cell.strip() for cell in row):
            yield reader.line_num, row


def check(rows: Iterable[RawRow | RefusedRow], at: dict[str, int]) -> list[AffectedPerson | RefusedRow]:
    """Each row as a person, or refused with its line and why (runs in a worker process for big files)."""
    checked: list[AffectedPerson | RefusedRow] = []
    for row in rows:
        if isinstance(row, RefusedRow):
            checked.append(row)
            continue
        try:
            checked.append(person(row[0], row[1], at))
        except InvalidInput as error:
            checked.append(RefusedRow(row[0], str(error)))
    return checked


def read_people(lines: Iterable[str]) -> Iterator[AffectedPerson | RefusedRow]:
    """Every data row of the CSV text ``lines``, checked, in order. Raises BadHeader first if need be."""
    at, rows = read_rows(lines)
    for row in rows:
        yield from check([row], at)
