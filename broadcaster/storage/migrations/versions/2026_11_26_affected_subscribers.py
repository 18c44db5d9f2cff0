"""affected subscribers: who a subscriber is, a reporter, a person the engineers know was affected, or a follower

A subscriber is a reporter (with the report that subscribed them), an affected person
imported by `broadcaster incident affected` (no report), or a person who follows the
incident from its page (no report; 0013). Followers made before this revision are the
subscribers without a report.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=16), nullable=False, server_default='reporter'))
    op.execute("UPDATE subscribers SET source = 'follower' WHERE first_report_id IS NULL")


def downgrade() -> None:
    op.execute("DELETE FROM deliveries WHERE subscriber_id IN (SELECT id FROM subscribers WHERE source = 'affected')")
    op.execute("DELETE FROM subscribers WHERE source = 'affected'")
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_column('source')
