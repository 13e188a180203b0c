"""voice calls (reserved for the voice channel, issue 14)

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db
from sqlalchemy.dialects import postgresql

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('voice_calls',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('call_id', sa.String(length=128), nullable=False),
    sa.Column('transport', sa.String(length=8), nullable=False),
    sa.Column('caller', sa.String(length=32), nullable=True),
    sa.Column('called', sa.String(length=64), nullable=False),
    sa.Column('line_id', sa.Uuid(), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('state', JSON, nullable=False),
    sa.Column('done', JSON, nullable=False),
    sa.Column('turns', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=True),
    sa.Column('started_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['line_id'], ['lines.id'], name=op.f('fk_voice_calls_line_id_lines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voice_calls')),
    sa.UniqueConstraint('transport', 'call_id', name=op.f('uq_voice_calls_transport_call_id'))
    )
    with op.batch_alter_table('voice_calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voice_calls_call_id'), ['call_id'], unique=False)
        batch_op.create_index('ix_voice_calls_line_started', ['line_id', 'started_at'], unique=False)

    op.create_table('voice_turns',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('call_id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=16), nullable=False),
    sa.Column('input', sa.String(length=16), nullable=False),
    sa.Column('prompts', JSON, nullable=False),
    sa.Column('then', sa.String(length=16), nullable=False),
    sa.Column('at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['voice_calls.id'], name=op.f('fk_voice_turns_call_id_voice_calls')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voice_turns')),
    sa.UniqueConstraint('call_id', 'seq', name=op.f('uq_voice_turns_call_id_seq'))
    )


def downgrade() -> None:
    op.drop_table('voice_turns')
    with op.batch_alter_table('voice_calls', schema=None) as batch_op:
        batch_op.drop_index('ix_voice_calls_line_started')
        batch_op.drop_index(batch_op.f('ix_voice_calls_call_id'))
    op.drop_table('voice_calls')
