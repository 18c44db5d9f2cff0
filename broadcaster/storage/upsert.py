"""Statements about many rows at once, for SQLite and PostgreSQL, the two databases we run on.

INSERT ... ON CONFLICT DO NOTHING, and "this column is one of these values". On SQLite
the rows travel as parameters of one cached executemany statement (SQLAlchemy's
insertmanyvalues) and a list as an IN list. On PostgreSQL several rows travel as one
JSON parameter (``json_to_recordset``) and a list as one array (``= ANY``): a page of 1,000 rows
written as a thousand placeholders made psycopg parse a statement of thousands of
parameters afresh every time (it caches only short ones), which was the largest single
cost of a fan-out (bench/fanout.py --profile).
"""

import json
from collections.abc import Sequence
from datetime import datetime
from importlib import import_module
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, Text, any_, bindparam, func, select, tuple_
from sqlalchemy import cast as sql_cast
from sqlalchemy import column as sql_column
from sqlalchemy.orm import Session

from broadcaster.storage.models import Base


def insert_ignoring_duplicates(
    session: Session, model: type[Base], rows: Sequence[dict[str, Any]], unique: Sequence[str]
) -> int:
    """Insert ``rows``; rows that collide on the ``unique`` columns are left as they are.

    Returns how many went in, counted from RETURNING: a driver's rowcount after an
    executemany is not a count on every database (psycopg reports 0 for a row it inserted).
    """
    return len(inserted_keys(session, model, rows, unique))


def inserted_keys(
    session: Session, model: type[Base], rows: Sequence[dict[str, Any]], unique: Sequence[str]
) -> list[tuple[Any, ...]]:
    """As :func:`insert_ignoring_duplicates`, returning the ``unique`` values of the rows that went in.

    Of several transactions inserting the same row at once, one gets it back: this is
    what lets two workers split a batch of first-time events without either doing one twice.
    """
    table = cast(Table, model.__table__)
    return [tuple(row) for row in _insert(session, table, rows, unique, [table.c[name] for name in unique])]


def inserted_ids(session: Session, model: type[Base], rows: Sequence[dict[str, Any]], unique: Sequence[str]) -> list[int]:
    """Like :func:`insert_ignoring_duplicates`; returns the ids of the rows that went in."""
    table = cast(Table, model.__table__)
    return [row[0] for row in _insert(session, table, rows, unique, [table.c.id])]


def inserted_rows_from(session: Session, model: type[Base], names: Sequence[str], rows: Any,
                       unique: Sequence[str], returning: Sequence[str]) -> list[tuple[Any, ...]]:
    """Like :func:`inserted_keys`, for rows a SELECT (``rows``, its columns in the order of ``names``) makes;
    the ``returning`` columns of the rows that went in.

    The database builds them (INSERT ... SELECT): for a page of a fan-out, one statement
    carries the subscriber ids, where a row each in Python cost more than the insert.
    """
    table = cast(Table, model.__table__)
    dialect = import_module(f"sqlalchemy.dialects.{session.get_bind().dialect.name}")  # the one the engine loaded
    statement = dialect.insert(table).from_select(list(names), rows).on_conflict_do_nothing(**_conflict(table, unique))
    return [tuple(row) for row in session.execute(statement.returning(*(table.c[name] for name in returning)))]


Column = Any  # a mapped attribute (Delivery.id) or a table column: anything with a SQL type


def among(session: Session, column: Column, values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL ``column = ANY(:array)``, one parameter however many values."""
    if not _postgresql(session):
        return column.in_(list(values))
    from sqlalchemy.dialects.postgresql import ARRAY

    return column == any_(bindparam(None, list(values), type_=ARRAY(column.type), unique=True))


def pairs_among(
    session: Session, first: Column, second: Column, pairs: Sequence[tuple[Any, Any]]
) -> ColumnElement[bool]:
    """``(first, second) IN pairs``; on PostgreSQL against two unnested arrays."""
    if not _postgresql(session):
        return tuple_(first, second).in_(list(pairs))
    rows = _unnested([first, second], [dict(zip(("a", "b"), pair, strict=True)) for pair in pairs], ["a", "b"])
    return tuple_(first, second).in_(select(rows.c.a, rows.c.b))


def _insert(session: Session, table: Table, rows: Sequence[dict[str, Any]], unique: Sequence[str],
            returning: list[Any]) -> list[Any]:
    if not rows:
        return []
    names = list(rows[0])
    if len(rows) > 1 and _postgresql(session):  # one row is one set of parameters anyway
        from sqlalchemy.dialects.postgresql import insert

        source = _unnested([table.c[name] for name in names], rows, names)
        statement = insert(table).from_select(names, select(*(source.c[name] for name in names)))
        return list(session.execute(statement.on_conflict_do_nothing(**_conflict(table, unique)).returning(*returning)))
    dialect = import_module(f"sqlalchemy.dialects.{session.get_bind().dialect.name}")  # the one the engine loaded
    ignoring = dialect.insert(table).on_conflict_do_nothing(**_conflict(table, unique))
    return list(session.execute(ignoring.returning(*returning), list(rows)))


def _conflict(table: Table, unique: Sequence[str]) -> dict[str, Any]:
    """ON CONFLICT's target: the ``unique`` columns, and the predicate of a partial unique index on them.

    Both databases take a partial index as the target only when the statement repeats its
    predicate; the models say it the same way for both (``deliveries``' report key).
    """
    for index in table.indexes:
        if index.unique and [column.name for column in index.columns] == list(unique):
            where = index.dialect_options["postgresql"]["where"]
            return {"index_elements": list(unique), "index_where": where}
    return {"index_elements": list(unique)}


def _unnested(columns: Sequence[Any], rows: Sequence[dict[str, Any]], names: Sequence[str]) -> Any:
    """The rows as a table on PostgreSQL: ``json_to_recordset(:rows) AS t(name type, ...)``.

    One JSON text parameter: psycopg dumps a text array element by element (a regex each,
    most of a batch's client time), while ``json.dumps`` is one C call.
    """
    document = json.dumps([{name: row[name] for name in names} for row in rows] if len(rows[0]) != len(names)
                          else rows, default=_iso)
    typed = [sql_column(name, column.type) for column, name in zip(columns, names, strict=True)]
    from sqlalchemy.dialects.postgresql import JSON

    parameter = sql_cast(bindparam(None, document, type_=Text, unique=True), JSON)
    return func.json_to_recordset(parameter).table_valued(*typed).render_derived(with_types=True)


def _iso(value: Any) -> str:
    """What JSON cannot carry, as text PostgreSQL reads back: aware datetimes as ISO 8601, bytes as hex bytea."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    raise TypeError(f"cannot send a {type(value).__name__} as a row value (naive datetimes are refused)")


def _postgresql(session: Session) -> bool:
    """Whether the session's engine is PostgreSQL (the dialect module is imported only then)."""
    return session.get_bind().dialect.name == "postgresql"

