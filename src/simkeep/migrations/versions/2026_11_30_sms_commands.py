"""sms commands (reserved for the sms channel, issue 14)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db
from sqlalchemy.dialects import postgresql

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
