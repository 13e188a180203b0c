"""provisioning worker and drift check (reserved for issue 15)

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 13:30:00
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The worker's lease on a command it is sending: another worker leaves the line alone until it ends; a worker
    # killed mid-send lets it run out, and the command is sent again (idempotent).
    with op.batch_alter_table('provisioning_commands', schema=None) as batch_op:
        batch_op.add_column(sa.Column('leased_until', simkeep.db.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('provisioning_commands', schema=None) as batch_op:
        batch_op.drop_column('leased_until')
