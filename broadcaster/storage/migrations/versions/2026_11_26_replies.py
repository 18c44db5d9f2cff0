"""replies: subscribers' answers to our emails, kept with their incident, and which say it still fails

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

import broadcaster.storage.models

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('replies',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('incident_id', sa.String(length=32), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('received_at', broadcaster.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('classification', sa.String(length=16), nullable=False),
    sa.Column('regression', sa.Boolean(), nullable=False),
    sa.Column('owner_told_at', broadcaster.storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], name=op.f('fk_replies_delivery_id_deliveries')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_replies_incident_id_incidents')),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_replies_subscriber_id_subscribers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_replies')),
    sa.UniqueConstraint('fingerprint', name=op.f('uq_replies_fingerprint'))
    )
    op.create_index('ix_replies_incident_id_received_at', 'replies', ['incident_id', 'received_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_replies_incident_id_received_at', table_name='replies')
    op.drop_table('replies')
