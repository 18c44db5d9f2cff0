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
    if not rows:
        return 0
    table = cast(Table, model.__table__)
    inserted = session.execute(_ignoring(session, table, unique).returning(*(table.c[name] for name in unique)), list(rows))
    return len(inserted.all())


def inserted_ids(session: Session, model: type[Base], rows: Sequence[dict[str, Any]], unique: Sequence[str]) -> list[int]:
    """Like :func:`insert_ignoring_duplicates`; returns the ids of the rows that went in."""
    if not rows:
        return []
    table = cast(Table, model.__table__)
    return list(session.scalars(_ignoring(session, table, unique).returning(table.c.id), list(rows)))


def _ignoring(session: Session, table: Table, unique: Sequence[str]) -> Any:
    """INSERT ... ON CONFLICT (unique) DO NOTHING, in the engine's dialect."""
    # Only the dialect the engine uses, which it has imported already: commands on SQLite skip PostgreSQL's.
    dialect = import_module("sqlalchemy.dialects.postgresql" if session.get_bind().dialect.name == "postgresql"
                            else "sqlalchemy.dialects.sqlite")
    return dialect.insert(table).on_conflict_do_nothing(index_elements=list(unique))
