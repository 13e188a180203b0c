"""worker heartbeat (reserved for issue 16)

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-30 16:40:00
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    # One row per running worker process: /readyz and /metrics read the newest beat.
    op.create_table('worker_heartbeats',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('started_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column('last_beat_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column('last_sweep_seconds', sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_worker_heartbeats')))
    with op.batch_alter_table('worker_heartbeats', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_worker_heartbeats_last_beat_at'), ['last_beat_at'], unique=False)
    # The web request that wrote a row for the worker: the worker logs its work under the same request id.
    # (A nullable column without a default: PostgreSQL adds it without rewriting the table.)
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_id', sa.String(length=64), nullable=True))
    with op.batch_alter_table('provisioning_commands', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_id', sa.String(length=64), nullable=True))
    # The pending messages alone, by channel: what /metrics counts at every scrape. On PostgreSQL it is built
    # CONCURRENTLY, so an upgrade on a live outbox of millions of sent rows never blocks the writers.
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            op.create_index('ix_outbox_pending', 'outbox', ['channel', 'next_attempt_at'], unique=False,
                            postgresql_where=PENDING, postgresql_concurrently=True)
    else:
        op.create_index('ix_outbox_pending', 'outbox', ['channel', 'next_attempt_at'], unique=False,
                        sqlite_where=PENDING)


def downgrade() -> None:
    op.drop_index('ix_outbox_pending', table_name='outbox')
    with op.batch_alter_table('provisioning_commands', schema=None) as batch_op:
        batch_op.drop_column('request_id')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('request_id')
    with op.batch_alter_table('worker_heartbeats', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_worker_heartbeats_last_beat_at'))
    op.drop_table('worker_heartbeats')
