"""receipts: two layouts (a4, thermal), stored per layout and void state; the issuer of a counter receipt

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 03:54:09.547393
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db
from sqlalchemy.dialects import postgresql

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The copies stored so far are A4 copies printed without VOID: a receipt voided since renders once more.
    with op.batch_alter_table('receipt_pdfs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('layout', sa.String(length=8), nullable=False, server_default='a4'))
        batch_op.add_column(sa.Column('voided', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.drop_constraint('pk_receipt_pdfs', type_='primary')
        batch_op.create_primary_key('pk_receipt_pdfs', ['receipt_id', 'layout'])
    with op.batch_alter_table('receipt_pdfs', schema=None) as batch_op:
        batch_op.alter_column('layout', server_default=None)
        batch_op.alter_column('voided', server_default=None)

    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('issuer', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.drop_column('issuer')

    # Only the A4 copies fit the old table (one per receipt); the others are renders, made again on demand.
    op.execute("DELETE FROM receipt_pdfs WHERE layout <> 'a4'")
    with op.batch_alter_table('receipt_pdfs', schema=None) as batch_op:
        batch_op.drop_constraint('pk_receipt_pdfs', type_='primary')
        batch_op.create_primary_key('pk_receipt_pdfs', ['receipt_id'])
        batch_op.drop_column('voided')
        batch_op.drop_column('layout')
