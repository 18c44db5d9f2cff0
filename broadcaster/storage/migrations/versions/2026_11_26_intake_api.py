"""intake API: API keys (hashed) and the requests they made, with their idempotency keys

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

import broadcaster.storage.models

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', broadcaster.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', broadcaster.storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('name', name=op.f('uq_api_keys_name')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_api_keys_token_sha256'))
    )
    op.create_table('intake_requests',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('api_key_id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.Column('report_id', sa.String(length=64), nullable=False),
    sa.Column('accepted_at', broadcaster.storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_keys.id'], name=op.f('fk_intake_requests_api_key_id_api_keys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_requests')),
    sa.UniqueConstraint('api_key_id', 'idempotency_key', name=op.f('uq_intake_requests_api_key_id_idempotency_key')),
    sa.UniqueConstraint('api_key_id', 'report_id', name=op.f('uq_intake_requests_api_key_id_report_id'))
    )
    with op.batch_alter_table('intake_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_requests_report_id'), ['report_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('intake_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_requests_report_id'))
    op.drop_table('intake_requests')
    op.drop_table('api_keys')
