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


def test_emails_skipped_because_the_person_asked_for_none_are_no_longer_counted_dead(database_url: str) -> None:
    """Before 0010 such rows were 'dead', which turned `status` red; other dead rows stay dead.

    The rows are made with today's code, then marked dead in plain SQL at 0009: the models
    describe the newest schema, which an older one may lack columns of.
    """
    from sqlalchemy import text

    from broadcaster.config import Settings
    from broadcaster.services.linking import LinkingModel
    from broadcaster.storage.database import make_session_factory
    from tests.support.services import T0, apply, declared, receive, report

    engine = make_engine(database_url)
    sessions, model = make_session_factory(engine), LinkingModel(Settings(database_url=database_url))
    apply(sessions, model, declared(), T0)
    ids = [receive(sessions, model, report(f"r{n}", f"user{n}@example.com", "CSV upload fails", T0), T0).delivery_ids[0]
           for n in range(3)]
    downgrade(database_url, "0009")
    reasons = ["suppressed: bounce", "unsubscribed from this incident", "SendGrid answered 400: invalid address"]
    with engine.begin() as connection:
        for delivery_id, reason in zip(ids, reasons, strict=True):
            connection.execute(text("UPDATE deliveries SET state = 'dead', last_error = :reason WHERE id = :id"),
                               {"reason": reason, "id": delivery_id})
    upgrade(database_url)
    with engine.connect() as connection:
        states = [connection.execute(text("SELECT state FROM deliveries WHERE id = :id"), {"id": i}).scalar_one()
                  for i in ids]
    assert states == ["skipped", "skipped", "dead"]
    engine.dispose()


def test_a_suspicions_list_of_reports_moves_onto_the_reports_and_back(database_url: str) -> None:
    """0021: each report listed by a suspicion names it (the later one, if two listed it); downgrade lists them again."""
    import json

    from sqlalchemy import text

    downgrade(database_url, "0020")
    engine = make_engine(database_url)
    with engine.begin() as connection:
        for n in range(4):
            connection.execute(text("INSERT INTO reports (id, email, name, text, source, received_at, link_state) "
                                    "VALUES (:id, 'a@example.com', 'Ann', 'dark mode', 'test', '2026-11-24 16:15:00', "
                                    "'unlinked')"), {"id": f"r{n}"})
        for suspicion_id, listed in ((1, ["r0", "r1"]), (2, ["r1", "r2"])):
            connection.execute(text("INSERT INTO suspected_incidents (id, raised_at, status, title_hint, phrases, "
                                    "report_ids) VALUES (:id, '2026-11-24 16:15:00', 'open', 'dark', '[]', :listed)"),
                               {"id": suspicion_id, "listed": json.dumps(listed)})
    upgrade(database_url)
    with engine.connect() as connection:
        named = dict(connection.execute(text("SELECT id, suspicion_id FROM reports ORDER BY id")).all())
    assert named == {"r0": 1, "r1": 2, "r2": 2, "r3": None}
    downgrade(database_url, "0020")
    with engine.connect() as connection:
        listed = {i: json.loads(ids) if isinstance(ids, str) else ids
                  for i, ids in connection.execute(text("SELECT id, report_ids FROM suspected_incidents ORDER BY id"))}
    engine.dispose()
    assert listed == {1: ["r0"], 2: ["r1", "r2"]}
    upgrade(database_url)
