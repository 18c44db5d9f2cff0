"""incident notes: engineers' internal notes kept with an incident; a shareable one is quoted by holding updates

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

import broadcaster.storage.models

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('incident_notes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('incident_id', sa.String(length=32), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('shareable', sa.Boolean(), nullable=False),
    sa.Column('created_at', broadcaster.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_notes_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_notes')),
    sa.UniqueConstraint('event_id', name=op.f('uq_incident_notes_event_id'))
    )
    op.create_index('ix_incident_notes_incident_id_created_at', 'incident_notes', ['incident_id', 'created_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_incident_notes_incident_id_created_at', table_name='incident_notes')
    op.drop_table('incident_notes')
