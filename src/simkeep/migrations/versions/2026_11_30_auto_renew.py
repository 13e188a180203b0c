"""auto renew (reserved: filled in by the issue-13 work that owns it)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 06:43:00
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db
from sqlalchemy.dialects import postgresql

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
