"""voice webhooks (reserved for the voice HTTP mode, issue 14)

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db
from sqlalchemy.dialects import postgresql

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('voice_http_turns',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('call_id', sa.String(length=128), nullable=False),
    sa.Column('turn', sa.Integer(), nullable=False),
    sa.Column('request_digest', sa.String(length=64), nullable=False),
    sa.Column('answer', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('answered_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voice_http_turns')),
    sa.UniqueConstraint('call_id', 'turn', name=op.f('uq_voice_http_turns_call_id_turn'))
    )
    op.create_index(op.f('ix_voice_http_turns_created_at'), 'voice_http_turns', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_voice_http_turns_created_at'), table_name='voice_http_turns')
    op.drop_table('voice_http_turns')
