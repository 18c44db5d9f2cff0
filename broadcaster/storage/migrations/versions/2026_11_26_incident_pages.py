"""incident pages: private incidents, and people who follow an incident from its page (no report, confirmed by email)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('private', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.alter_column('first_report_id', existing_type=sa.String(64), nullable=True)
        batch_op.add_column(sa.Column('confirmed', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    op.execute("DELETE FROM deliveries WHERE subscriber_id IN (SELECT id FROM subscribers WHERE first_report_id IS NULL)")
    op.execute("DELETE FROM subscribers WHERE first_report_id IS NULL")
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_column('confirmed')
        batch_op.alter_column('first_report_id', existing_type=sa.String(64), nullable=False)
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('private')
