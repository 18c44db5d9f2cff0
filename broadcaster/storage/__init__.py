"""The system of record: SQLAlchemy models, Alembic migrations and the queries on them."""
