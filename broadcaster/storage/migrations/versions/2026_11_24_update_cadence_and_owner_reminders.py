"""update cadence and owner reminders

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

import broadcaster.storage.models

revision = '0004'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('owner_reminders',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('incident_id', sa.String(length=32), nullable=False),
    sa.Column('promise_at', broadcaster.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('reminded_at', broadcaster.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_owner_reminders_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_owner_reminders')),
    sa.UniqueConstraint('incident_id', 'promise_at', name=op.f('uq_owner_reminders_incident_id_promise_at'))
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('update_every_seconds', sa.Integer(), server_default='7200', nullable=False))
        batch_op.add_column(sa.Column('holding_updates', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('owner_email', sa.String(length=320), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('owner_email')
        batch_op.drop_column('holding_updates')
        batch_op.drop_column('update_every_seconds')

    op.drop_table('owner_reminders')
