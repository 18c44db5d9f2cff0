"""triage promises: when a waiting report was promised a person's look, reminders of it, and receipts

Reports get ``triage_due_at``; ``triage_reminders`` records each reminder to the triage
owner once per report and stage; a delivery may name a report instead of an update and
subscriber (the receipt to a reporter whose report waits for a person), once per kind.
Reports that were already waiting are left without a promise: nobody was promised anything.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

import broadcaster.storage.models

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('triage_due_at', broadcaster.storage.models.UtcDateTime(timezone=True),
                                      nullable=True))
    op.create_table('triage_reminders',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('report_id', sa.String(length=64), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('reminded_at', broadcaster.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_triage_reminders_report_id_reports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_triage_reminders')),
    sa.UniqueConstraint('report_id', 'stage', name=op.f('uq_triage_reminders_report_id_stage'))
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('report_id', sa.String(length=64), nullable=True))
        batch_op.alter_column('update_id', existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column('subscriber_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(op.f('fk_deliveries_report_id_reports'), 'reports', ['report_id'], ['id'])
        batch_op.create_unique_constraint(op.f('uq_deliveries_report_id_kind'), ['report_id', 'kind'])


def downgrade() -> None:
    op.execute("DELETE FROM deliveries WHERE report_id IS NOT NULL")
    op.execute("UPDATE reports SET link_state = 'unlinked' WHERE link_state = 'closed'")
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('uq_deliveries_report_id_kind'), type_='unique')
        batch_op.drop_constraint(op.f('fk_deliveries_report_id_reports'), type_='foreignkey')
        batch_op.alter_column('subscriber_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('update_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('report_id')
    op.drop_table('triage_reminders')
    # Not in batch mode: on SQLite that rebuilds the table, and dropping a table other rows refer to
    # fails while foreign keys are on. Both databases drop a plain column in place (SQLite since 3.35).
    op.execute("ALTER TABLE reports DROP COLUMN triage_due_at")
