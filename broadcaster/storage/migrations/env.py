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
            # A batch migration on SQLite copies a table, drops it and renames the copy; with foreign
            # keys enforced, dropping a table other rows point at fails. The pragma only takes effect
            # outside a transaction, so it is set and committed before the migration's transaction.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=sqlite,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                raise RuntimeError("the migration left rows pointing at rows that do not exist; nothing was changed")
    engine.dispose()


run_migrations()
