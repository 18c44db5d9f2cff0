"""provider events: the mail provider's word on each delivery, and the events already applied

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

import broadcaster.storage.models

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('provider_status', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('provider_status_at', broadcaster.storage.models.UtcDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('provider_detail', sa.String(length=300), nullable=True))
    op.create_table('provider_events_seen',
    sa.Column('event_id', sa.String(length=100), nullable=False),
    sa.Column('received_at', broadcaster.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_provider_events_seen'))
    )
    with op.batch_alter_table('provider_events_seen', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provider_events_seen_received_at'), ['received_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('provider_events_seen', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_provider_events_seen_received_at'))
    op.drop_table('provider_events_seen')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_column('provider_detail')
        batch_op.drop_column('provider_status_at')
        batch_op.drop_column('provider_status')
