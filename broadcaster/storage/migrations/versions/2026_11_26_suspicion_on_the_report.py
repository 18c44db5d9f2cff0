"""suspicion on the report: a suspected incident's members are the reports that name it

A suspected incident kept its members as one JSON list, written again, sorted, with every
batch of reports that joined it: in a flood of 60,000 undeclared reports, the list of all
of them, once a batch. Each report now names the suspicion it was counted in
(``reports.suspicion_id``), written for the batch's reports only.

And early warning's read of the newest unlinked reports, made every batch, found every
unlinked report by the link state's index and sorted them all; an index on (link state,
received) replaces that one and reads the newest in order.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

suspicions = sa.table('suspected_incidents', sa.column('id', sa.Integer), sa.column('report_ids', sa.JSON))
reports = sa.table('reports', sa.column('id', sa.String), sa.column('suspicion_id', sa.Integer))


def upgrade() -> None:
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suspicion_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_reports_suspicion_id'), ['suspicion_id'], unique=False)
        batch_op.drop_index('ix_reports_link_state')
        batch_op.create_index('ix_reports_link_state_received_at', ['link_state', 'received_at'], unique=False)
    connection = op.get_bind()
    for suspicion_id, report_ids in connection.execute(sa.select(suspicions.c.id, suspicions.c.report_ids)
                                                       .order_by(suspicions.c.id)):
        if report_ids:  # a report in two suspicions names the later one
            connection.execute(reports.update().where(reports.c.id.in_(report_ids)).values(suspicion_id=suspicion_id))
    with op.batch_alter_table('suspected_incidents', schema=None) as batch_op:
        batch_op.drop_column('report_ids')


def downgrade() -> None:
    with op.batch_alter_table('suspected_incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('report_ids', sa.JSON(), nullable=False, server_default='[]'))
    connection = op.get_bind()
    members: dict[int, list[str]] = {}
    for report_id, suspicion_id in connection.execute(sa.select(reports.c.id, reports.c.suspicion_id)
                                                      .where(reports.c.suspicion_id.is_not(None))):
        members.setdefault(suspicion_id, []).append(report_id)
    for suspicion_id, report_ids in members.items():
        connection.execute(suspicions.update().where(suspicions.c.id == suspicion_id)
                           .values(report_ids=sorted(report_ids)))
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index('ix_reports_link_state_received_at')
        batch_op.create_index('ix_reports_link_state', ['link_state'], unique=False)
        batch_op.drop_index(batch_op.f('ix_reports_suspicion_id'))
        batch_op.drop_column('suspicion_id')
