"""messaging receipts opt out

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 08:16:36.455005
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inbound_messages',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('sender', sa.String(length=20), nullable=False),
    sa.Column('text', sa.String(length=1000), nullable=False),
    sa.Column('received_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=60), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_messages'))
    )
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_messages_sender'), ['sender'], unique=False)

    with op.batch_alter_table('lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminders_opted_out_at', simkeep.db.UtcDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_id', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('receipt_status', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('receipt_at', simkeep.db.UtcDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_external_id'), ['external_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_external_id'))
        batch_op.drop_column('receipt_at')
        batch_op.drop_column('receipt_status')
        batch_op.drop_column('external_id')

    with op.batch_alter_table('lines', schema=None) as batch_op:
        batch_op.drop_column('reminders_opted_out_at')

    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_messages_sender'))

    op.drop_table('inbound_messages')
