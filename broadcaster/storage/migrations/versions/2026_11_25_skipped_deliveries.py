"""skipped deliveries: emails not sent because the person asked for none are no longer 'dead'

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25
"""

from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_ASKED_FOR_NONE = "(last_error LIKE 'suppressed: %' OR last_error = 'unsubscribed from this incident')"


def upgrade() -> None:
    op.execute(f"UPDATE deliveries SET state = 'skipped' WHERE state = 'dead' AND {_ASKED_FOR_NONE}")


def downgrade() -> None:
    op.execute(f"UPDATE deliveries SET state = 'dead' WHERE state = 'skipped' AND {_ASKED_FOR_NONE}")
