"""ussd sessions (reserved for the ussd channel, issue 14)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db
from sqlalchemy.dialects import postgresql

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ussd_sessions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('msisdn', sa.String(length=20), nullable=False),
    sa.Column('line_id', sa.Uuid(), nullable=True),
    sa.Column('smsc_session', sa.Integer(), nullable=False),
    sa.Column('open_key', sa.String(length=40), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('last_sequence', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('started_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['line_id'], ['lines.id'], name=op.f('fk_ussd_sessions_line_id_lines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ussd_sessions')),
    sa.UniqueConstraint('open_key', name=op.f('uq_ussd_sessions_open_key'))
    )
    with op.batch_alter_table('ussd_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ussd_sessions_msisdn'), ['msisdn'], unique=False)
        batch_op.create_index('ix_ussd_sessions_line', ['line_id', 'started_at'], unique=False)
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_ussd_due', ['status', 'next_attempt_at'], unique=False,
                              sqlite_where=sa.text("channel = 'ussd'"), postgresql_where=sa.text("channel = 'ussd'"))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_ussd_due', sqlite_where=sa.text("channel = 'ussd'"),
                            postgresql_where=sa.text("channel = 'ussd'"))
    op.drop_table('ussd_sessions')
