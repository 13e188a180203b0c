"""receipt pdfs: rendered once, served from storage

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 18:40:00
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('receipt_pdfs',
    sa.Column('receipt_id', sa.Uuid(), nullable=False),
    sa.Column('verify_url', sa.String(length=500), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('rendered_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['receipt_id'], ['receipts.id'], name=op.f('fk_receipt_pdfs_receipt_id_receipts')),
    sa.PrimaryKeyConstraint('receipt_id', name=op.f('pk_receipt_pdfs'))
    )


def downgrade() -> None:
    op.drop_table('receipt_pdfs')
