"""eSIM profiles (reserved for issue 15)

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30 13:30:00
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
