"""line notes and paused reminders (reserved for issue 16)

The back office's line search and timeline: staff notes (append-only), reminders paused by staff until a date, and
the indexes the search keys need (e-mail whatever its case, a payment's provider reference alone, a card's top-up).

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-30 16:40:00
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'line_notes',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('line_id', sa.Uuid(), nullable=False),
        sa.Column('author', sa.String(length=80), nullable=False),
        sa.Column('text', sa.String(length=2000), nullable=False),
        sa.Column('at', simkeep.db.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['line_id'], ['lines.id'], name=op.f('fk_line_notes_line_id_lines')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_line_notes')),
    )
    op.create_index('ix_line_notes_line_at', 'line_notes', ['line_id', 'at'], unique=False)
    with op.batch_alter_table('lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminders_paused_until', simkeep.db.UtcDateTime(), nullable=True))
    op.create_index('ix_lines_email_lower', 'lines', [sa.text('lower(email)')], unique=False)
    op.create_index('ix_payment_attempts_provider_ref', 'payment_attempts', ['provider_ref'], unique=False)
    op.create_index(op.f('ix_vouchers_topup_id'), 'vouchers', ['topup_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_vouchers_topup_id'), table_name='vouchers')
    op.drop_index('ix_payment_attempts_provider_ref', table_name='payment_attempts')
    op.drop_index('ix_lines_email_lower', table_name='lines')
    with op.batch_alter_table('lines', schema=None) as batch_op:
        batch_op.drop_column('reminders_paused_until')
    op.drop_index('ix_line_notes_line_at', table_name='line_notes')
    op.drop_table('line_notes')
