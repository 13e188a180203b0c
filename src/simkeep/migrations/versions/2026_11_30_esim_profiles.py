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
    op.create_table('esim_profiles',
    sa.Column('sim_id', sa.Uuid(), nullable=False),
    sa.Column('smdp_address', sa.String(length=253), nullable=False),
    sa.Column('matching_id_sealed', sa.Text(), nullable=False),
    sa.Column('smdp_oid', sa.String(length=120), nullable=True),
    sa.Column('confirmation_code_required', sa.Boolean(), nullable=False),
    sa.Column('assigned_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('shown_publicly_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['sim_id'], ['sims.id'], name=op.f('fk_esim_profiles_sim_id_sims')),
    sa.PrimaryKeyConstraint('sim_id', name=op.f('pk_esim_profiles'))
    )


def downgrade() -> None:
    op.drop_table('esim_profiles')
