"""SIM and number inventory (reserved for issue 15)

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 13:30:00
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
