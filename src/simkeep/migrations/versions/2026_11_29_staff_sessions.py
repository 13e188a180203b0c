"""staff accounts and server-side sessions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 18:30:00
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('staff_accounts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('username', sa.String(length=40), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('must_change_password', sa.Boolean(), nullable=False),
    sa.Column('totp_secret', sa.String(length=200), nullable=True),
    sa.Column('totp_last_step', sa.BigInteger(), nullable=True),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('locked_until', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('disabled_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('setup_marker', sa.Integer(), nullable=True),
    sa.Column('created_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('password_changed_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_signin_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_accounts')),
    sa.UniqueConstraint('setup_marker', name=op.f('uq_staff_accounts_setup_marker')),
    sa.UniqueConstraint('username', name=op.f('uq_staff_accounts_username'))
    )
    op.create_table('web_sessions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('staff_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('idle_expires_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('user_agent', sa.String(length=200), nullable=False),
    sa.Column('client_address', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_accounts.id'], name=op.f('fk_web_sessions_staff_id_staff_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_web_sessions_token_hash'))
    )
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_web_sessions_expires_at', ['expires_at'], unique=False)
        batch_op.create_index('ix_web_sessions_idle_expires_at', ['idle_expires_at'], unique=False)
        batch_op.create_index('ix_web_sessions_staff_id', ['staff_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_web_sessions_staff_id')
        batch_op.drop_index('ix_web_sessions_idle_expires_at')
        batch_op.drop_index('ix_web_sessions_expires_at')
    op.drop_table('web_sessions')
    op.drop_table('staff_accounts')
