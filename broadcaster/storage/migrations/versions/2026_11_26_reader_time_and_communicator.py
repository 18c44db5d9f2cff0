"""emails from a person, in the reader's time: incidents' communicator and second owner, readers' zone and locale

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

_READER_TABLES = ('reports', 'subscribers')


def upgrade() -> None:
    # Plain ALTER TABLE (SQLite 3.35+ drops columns natively): a batch copy of reports or incidents
    # would trip the foreign keys that point at rows already there.
    op.add_column('incidents', sa.Column('communicator', sa.String(length=200), nullable=True))
    op.add_column('incidents', sa.Column('second_owner_email', sa.String(length=320), nullable=True))
    for table in _READER_TABLES:
        op.add_column(table, sa.Column('time_zone', sa.String(length=64), nullable=True))
        op.add_column(table, sa.Column('locale', sa.String(length=35), nullable=True))


def downgrade() -> None:
    for table in _READER_TABLES:
        op.drop_column(table, 'locale')
        op.drop_column(table, 'time_zone')
    op.drop_column('incidents', 'second_owner_email')
    op.drop_column('incidents', 'communicator')
