"""triage and early warning

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

import broadcaster.storage.models

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('suspected_incidents',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('raised_at', broadcaster.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('component', sa.String(length=100), nullable=True),
    sa.Column('title_hint', sa.String(length=200), nullable=False),
    sa.Column('phrases', sa.JSON(), nullable=False),
    sa.Column('report_ids', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suspected_incidents'))
    )
    with op.batch_alter_table('suspected_incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_suspected_incidents_status'), ['status'], unique=False)

    op.create_table('link_feedback',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('report_id', sa.String(length=64), nullable=False),
    sa.Column('incident_id', sa.String(length=32), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('decided_at', broadcaster.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_link_feedback_incident_id_incidents')),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_link_feedback_report_id_reports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_feedback')),
    sa.UniqueConstraint('report_id', 'incident_id', name=op.f('uq_link_feedback_report_id_incident_id'))
    )
    with op.batch_alter_table('link_feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_link_feedback_incident_id'), ['incident_id'], unique=False)

    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link_state', sa.String(length=16), server_default='unlinked', nullable=False))
        batch_op.add_column(sa.Column('candidate_incident_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('link_score', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('linked_by', sa.String(length=16), nullable=True))
        batch_op.create_index(batch_op.f('ix_reports_link_state'), ['link_state'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_reports_candidate_incident_id_incidents'), 'incidents',
                                    ['candidate_incident_id'], ['id'])

    # Reports linked by the first matcher keep their link.
    op.execute("UPDATE reports SET link_state = 'linked', linked_by = 'matcher' WHERE incident_id IS NOT NULL")



def downgrade() -> None:
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_reports_candidate_incident_id_incidents'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_reports_link_state'))
        batch_op.drop_column('linked_by')
        batch_op.drop_column('link_score')
        batch_op.drop_column('candidate_incident_id')
        batch_op.drop_column('link_state')

    with op.batch_alter_table('link_feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_link_feedback_incident_id'))

    op.drop_table('link_feedback')
    with op.batch_alter_table('suspected_incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_suspected_incidents_status'))

    op.drop_table('suspected_incidents')
