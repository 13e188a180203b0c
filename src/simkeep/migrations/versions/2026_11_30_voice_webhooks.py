"""voice webhooks (reserved for the voice HTTP mode, issue 14)

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db
from sqlalchemy.dialects import postgresql

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
