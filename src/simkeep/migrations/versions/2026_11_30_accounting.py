"""accounting sequence (reserved for issue 16)

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
    pass


def downgrade() -> None:
    pass
