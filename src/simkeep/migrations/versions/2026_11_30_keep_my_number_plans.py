"""keep my number plans

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
    op.create_table('keep_plans',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('line_id', sa.Uuid(), nullable=False),
    sa.Column('mode', sa.String(length=12), nullable=False),
    sa.Column('until_on', sa.Date(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total_minor', sa.BigInteger(), nullable=False),
    sa.Column('steps', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('reminders', sa.Integer(), nullable=False),
    sa.Column('created_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['line_id'], ['lines.id'], name=op.f('fk_keep_plans_line_id_lines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_keep_plans'))
    )
    with op.batch_alter_table('keep_plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_keep_plans_line_id'), ['line_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('keep_plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_keep_plans_line_id'))

    op.drop_table('keep_plans')
