"""Alembic migrations are the only way the schema is made, so they must agree with the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from broadcaster.storage.database import downgrade, make_engine, upgrade
from broadcaster.storage.models import Base


def test_migrations_build_exactly_the_schema_the_models_describe(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def test_every_table_exists_after_upgrade(database_url: str) -> None:
    engine = make_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert set(Base.metadata.tables) <= tables


def test_upgrade_twice_is_harmless_and_downgrade_removes_everything(database_url: str) -> None:
    upgrade(database_url)
    downgrade(database_url, "base")
    engine = make_engine(database_url)
    remaining = set(inspect(engine).get_table_names()) & set(Base.metadata.tables)
    engine.dispose()
    assert remaining == set()
