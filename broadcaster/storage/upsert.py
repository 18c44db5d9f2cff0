"""INSERT ... ON CONFLICT DO NOTHING for SQLite and PostgreSQL, the two databases we run on."""

from collections.abc import Sequence
from importlib import import_module
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from broadcaster.storage.models import Base


def insert_ignoring_duplicates(
    session: Session, model: type[Base], rows: Sequence[dict[str, Any]], unique: Sequence[str]
) -> int:
    """Insert ``rows``; rows that collide on the ``unique`` columns are left as they are.

    Returns how many went in, counted from RETURNING: a driver's rowcount after an
    executemany is not a count on every database (psycopg reports 0 for a row it inserted).
    The rows travel as parameters of one cached statement, batched by SQLAlchemy's
    insertmanyvalues, not as literal VALUES compiled afresh for every page.
    """
    return len(inserted_keys(session, model, rows, unique))


def inserted_keys(
    session: Session, model: type[Base], rows: Sequence[dict[str, Any]], unique: Sequence[str]
) -> list[tuple[Any, ...]]:
    """As :func:`insert_ignoring_duplicates`, returning the ``unique`` values of the rows that went in.

    Of several transactions inserting the same row at once, one gets it back: this is
    what lets two workers split a batch of first-time events without either doing one twice.
    """
    if not rows:
        return []
    table = cast(Table, model.__table__)
    # Only the dialect the engine uses, which it has imported already: commands on SQLite skip PostgreSQL's.
    dialect = import_module("sqlalchemy.dialects.postgresql" if session.get_bind().dialect.name == "postgresql"
                            else "sqlalchemy.dialects.sqlite")
    statement = dialect.insert(table).on_conflict_do_nothing(index_elements=list(unique))
    inserted = session.execute(statement.returning(*(table.c[name] for name in unique)), list(rows))
    return [tuple(row) for row in inserted]
