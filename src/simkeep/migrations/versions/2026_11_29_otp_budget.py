"""otp budget: wrong guesses per number across codes, and one row per number that serialises its checks

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 09:00:00
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('otp_numbers',
    sa.Column('msisdn', sa.String(length=16), nullable=False),
    sa.Column('touched_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('msisdn', name=op.f('pk_otp_numbers'))
    )
    op.create_table('otp_failures',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('msisdn', sa.String(length=16), nullable=False),
    sa.Column('at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_otp_failures'))
    )
    with op.batch_alter_table('otp_failures', schema=None) as batch_op:
        batch_op.create_index('ix_otp_failures_msisdn_at', ['msisdn', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('otp_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_otp_failures_msisdn_at')
    op.drop_table('otp_failures')
    op.drop_table('otp_numbers')
