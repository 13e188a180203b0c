"""sms commands (reserved for the sms channel, issue 14)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db
from sqlalchemy.dialects import postgresql

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_id', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('line_id', sa.Uuid(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_inbound_messages_external_id'), ['external_id'])
        batch_op.create_foreign_key(batch_op.f('fk_inbound_messages_line_id_lines'), 'lines', ['line_id'], ['id'])
        batch_op.create_index('ix_inbound_messages_line', ['line_id', 'received_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_inbound_messages_line')
        batch_op.drop_constraint(batch_op.f('fk_inbound_messages_line_id_lines'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_inbound_messages_external_id'), type_='unique')
        batch_op.drop_column('line_id')
        batch_op.drop_column('external_id')
