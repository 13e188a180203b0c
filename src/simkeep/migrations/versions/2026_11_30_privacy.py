"""erasures and retention (reserved for issue 16)

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-30 16:40:00
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('erasures',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('line_id', sa.Uuid(), nullable=False),
    sa.Column('pseudonym', sa.String(length=16), nullable=False),
    sa.Column('closed_line', sa.Boolean(), nullable=False),
    sa.Column('erased_by', sa.String(length=80), nullable=False),
    sa.Column('erased_at', simkeep.db.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['line_id'], ['lines.id'], name=op.f('fk_erasures_line_id_lines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erasures')),
    sa.UniqueConstraint('line_id', name=op.f('uq_erasures_line_id'))
    )
    with op.batch_alter_table('erasures', schema=None) as batch_op:
        batch_op.create_index('ix_erasures_erased_at', ['erased_at', 'id'], unique=False)

    op.create_table('retention_runs',
    sa.Column('rule', sa.String(length=40), nullable=False),
    sa.Column('through_at', simkeep.db.UtcDateTime(), nullable=False),
    sa.Column('ran_at', simkeep.db.UtcDateTime(), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('rule', name=op.f('pk_retention_runs'))
    )


def downgrade() -> None:
    op.drop_table('retention_runs')
    with op.batch_alter_table('erasures', schema=None) as batch_op:
        batch_op.drop_index('ix_erasures_erased_at')
    op.drop_table('erasures')
