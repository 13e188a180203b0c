"""ussd sessions (reserved for the ussd channel, issue 14)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db
from sqlalchemy.dialects import postgresql

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
