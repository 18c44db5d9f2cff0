"""support-desk webhooks: intake requests without an API key, one per desk ticket, with a link back

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('intake_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('desk', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('ticket_url', sa.String(length=2048), nullable=True))
        batch_op.alter_column('api_key_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_unique_constraint(batch_op.f('uq_intake_requests_desk_idempotency_key'),
                                          ['desk', 'idempotency_key'])


def downgrade() -> None:
    op.execute("DELETE FROM intake_requests WHERE api_key_id IS NULL")
    with op.batch_alter_table('intake_requests', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_intake_requests_desk_idempotency_key'), type_='unique')
        batch_op.alter_column('api_key_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('ticket_url')
        batch_op.drop_column('desk')
