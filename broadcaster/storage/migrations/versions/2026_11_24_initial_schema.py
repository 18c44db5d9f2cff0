"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

import broadcaster.storage.models

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('incidents',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('component', sa.String(length=100), nullable=True),
    sa.Column('severity', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('workaround', sa.Text(), nullable=False),
    sa.Column('how_to_verify', sa.Text(), nullable=False),
    sa.Column('match_phrases', sa.JSON(), nullable=False),
    sa.Column('declared_at', broadcaster.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', broadcaster.storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('next_update_at', broadcaster.storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents'))
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incidents_status'), ['status'], unique=False)

    op.create_table('incident_updates',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('incident_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_at', broadcaster.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('next_update_at', broadcaster.storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_updates_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_updates')),
    sa.UniqueConstraint('event_id', name=op.f('uq_incident_updates_event_id'))
    )
    with op.batch_alter_table('incident_updates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_updates_incident_id'), ['incident_id'], unique=False)

    op.create_table('reports',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('component', sa.String(length=100), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('received_at', broadcaster.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('incident_id', sa.String(length=32), nullable=True),
    sa.Column('linked_at', broadcaster.storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_reports_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reports'))
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reports_email'), ['email'], unique=False)
        batch_op.create_index('ix_reports_unlinked', ['incident_id', 'received_at'], unique=False)

    op.create_table('subscribers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('incident_id', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('first_report_id', sa.String(length=64), nullable=False),
    sa.Column('subscribed_at', broadcaster.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['first_report_id'], ['reports.id'], name=op.f('fk_subscribers_first_report_id_reports')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_subscribers_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscribers')),
    sa.UniqueConstraint('incident_id', 'email', name=op.f('uq_subscribers_incident_id_email'))
    )
    op.create_table('deliveries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('update_id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('queued_at', broadcaster.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', broadcaster.storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', broadcaster.storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_deliveries_subscriber_id_subscribers')),
    sa.ForeignKeyConstraint(['update_id'], ['incident_updates.id'], name=op.f('fk_deliveries_update_id_incident_updates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries')),
    sa.UniqueConstraint('update_id', 'subscriber_id', name=op.f('uq_deliveries_update_id_subscriber_id'))
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_state', ['state', 'queued_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_deliveries_subscriber_id'), ['subscriber_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deliveries_subscriber_id'))
        batch_op.drop_index('ix_deliveries_state')

    op.drop_table('deliveries')
    op.drop_table('subscribers')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index('ix_reports_unlinked')
        batch_op.drop_index(batch_op.f('ix_reports_email'))

    op.drop_table('reports')
    with op.batch_alter_table('incident_updates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_updates_incident_id'))

    op.drop_table('incident_updates')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incidents_status'))

    op.drop_table('incidents')
