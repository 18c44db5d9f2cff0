"""emails from a person, in the reader's time: incidents' communicator and second owner, readers' zone and locale

Revision ID: 0017
Revises: 0012 (becomes 0016 when merged after 0013-0016)
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0012'
branch_labels = None
depends_on = None

_READER_TABLES = ('reports', 'subscribers')


def upgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('communicator', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('second_owner_email', sa.String(length=320), nullable=True))
    for table in _READER_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))
            batch_op.add_column(sa.Column('locale', sa.String(length=35), nullable=True))


def downgrade() -> None:
    for table in _READER_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('locale')
            batch_op.drop_column('time_zone')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('second_owner_email')
        batch_op.drop_column('communicator')
