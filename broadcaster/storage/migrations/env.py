"""Alembic environment: runs migrations against the URL that ``upgrade()`` was given."""

from alembic import context

from broadcaster.storage.database import make_engine
from broadcaster.storage.models import Base

config = context.config


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic configuration has no sqlalchemy.url")
    engine = make_engine(url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode changes a SQLite table by copying it, dropping the old one and renaming the
            # copy; with foreign keys on, dropping a table that rows point at fails. They are off for
            # the migration (the pragma is ignored inside a transaction, so before it) and checked after.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=sqlite)
        with context.begin_transaction():
            context.run_migrations()
        if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()):
            raise RuntimeError(f"the migration left rows pointing at nothing: {broken[:5]}")
    engine.dispose()


run_migrations()
