"""lighter delivery indexes: entries only for the rows that need them

A fan-out writes a delivery row per recipient and changes it once, and every index of
the table takes an entry each time. Two of them were mostly about rows that never need
them: the unique key of emails about a report (triage receipts) held an entry for every
row about an update, whose report is empty; and the state index held every sent and
skipped row, which neither the sweep nor `status` ever looks for. On PostgreSQL each
fan-out recipient cost about 40 µs of database CPU to insert and 16 µs to record.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

HAS_REPORT = sa.text("report_id IS NOT NULL")
UNFINISHED = sa.text("state IN ('queued', 'sending', 'failed', 'held', 'dead')")


def upgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_constraint('uq_deliveries_report_id_kind', type_='unique')
        batch_op.drop_index('ix_deliveries_state')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('uq_deliveries_report_id_kind', ['report_id', 'kind'], unique=True,
                              sqlite_where=HAS_REPORT, postgresql_where=HAS_REPORT)
        batch_op.create_index('ix_deliveries_state', ['state', 'queued_at'], postgresql_where=UNFINISHED)


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_state')
        batch_op.drop_index('uq_deliveries_report_id_kind')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_state', ['state', 'queued_at'])
        batch_op.create_unique_constraint('uq_deliveries_report_id_kind', ['report_id', 'kind'])
