"""accounting: journal entries by date (the books of a period, read in (created_at, id) order)

Revision ID: 0028
Revises: 0027
Create Date: 2026-11-30 16:40:00
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The journal, the balances and the FEC of a period walk journal_entries in (created_at, id) order by keyset:
    # without this index each page of a period is a scan of the whole ledger.
    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.create_index('ix_journal_entries_created_at', ['created_at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_journal_entries_created_at')
