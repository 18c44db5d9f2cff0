"""affected subscribers: people the engineers know were affected, who did not write

A subscriber is now a reporter (with the report that subscribed them) or an affected
person imported by `broadcaster incident affected` (no report; an optional time zone and
locale from the import).

Revision ID: 0016
Revises: 0012
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0012'  # becomes '0015' when merged after the parallel migrations
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=16), nullable=False, server_default='reporter'))
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('locale', sa.String(length=35), nullable=True))
        batch_op.alter_column('first_report_id', existing_type=sa.String(length=64), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM deliveries WHERE subscriber_id IN (SELECT id FROM subscribers WHERE source = 'affected')")
    op.execute("DELETE FROM subscribers WHERE source = 'affected'")
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.alter_column('first_report_id', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column('locale')
        batch_op.drop_column('time_zone')
        batch_op.drop_column('source')
