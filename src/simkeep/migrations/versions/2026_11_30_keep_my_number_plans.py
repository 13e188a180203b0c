"""keep my number plans (reserved: filled in by the issue-13 work that owns it)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 06:44:00
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db
from sqlalchemy.dialects import postgresql

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
