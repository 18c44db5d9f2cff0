"""INSERT ... ON CONFLICT DO NOTHING for SQLite and PostgreSQL, the two databases we run on."""

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from broadcaster.storage.models import Base


def insert_ignoring_duplicates(
    session: Session, model: type[Base], rows: Sequence[dict[str, Any]], unique: Sequence[str]
) -> int:
    """Insert ``rows``; rows that collide on the ``unique`` columns are left as they are.

    Returns how many went in as the driver counts them: exact for a single row, which is
    where callers use it. The rows travel as parameters of one cached statement
    (executemany), not as literal VALUES compiled afresh for every page.
    """
    if not rows:
        return 0
    table = cast(Table, model.__table__)
    statement: Executable
    if session.get_bind().dialect.name == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing(index_elements=list(unique))
    else:
        statement = sqlite.insert(table).on_conflict_do_nothing(index_elements=list(unique))
    return cast(CursorResult[Any], session.execute(statement, list(rows))).rowcount
