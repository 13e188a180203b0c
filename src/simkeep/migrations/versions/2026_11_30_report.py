"""dashboard indexes (reserved for issue 16)

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-30 16:40:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


LIVE = "state IN ('active', 'grace', 'suspended')"


def upgrade() -> None:
    # One index per dashboard chart (report.service); the partial ones stay small on 10M lines.
    op.create_index('ix_topups_created_at', 'topups', ['created_at'], unique=False,
                    postgresql_include=['channel', 'price_minor', 'bonus_minor', 'currency', 'line_id'])
    op.create_index('ix_lines_live_number_loss', 'lines', ['number_loss_at', 'operator_id'], unique=False,
                    sqlite_where=sa.text(LIVE), postgresql_where=sa.text(LIVE))
    op.create_index('ix_line_events_to_state_at', 'line_events', ['to_state', 'at'], unique=False)
    op.create_index('ix_payment_attempts_topup', 'payment_attempts', ['topup_id'], unique=False)
    op.create_index('ix_payment_attempts_created_at', 'payment_attempts', ['created_at'], unique=False)
    op.create_index('ix_payment_attempts_in_review', 'payment_attempts', ['updated_at'], unique=False,
                    sqlite_where=sa.text("status = 'review'"), postgresql_where=sa.text("status = 'review'"))
    op.create_index('ix_outbox_reminders', 'outbox', ['created_at'], unique=False,
                    sqlite_where=sa.text("topic = 'reminder'"), postgresql_where=sa.text("topic = 'reminder'"))


def downgrade() -> None:
    op.drop_index('ix_outbox_reminders', table_name='outbox')
    op.drop_index('ix_payment_attempts_in_review', table_name='payment_attempts')
    op.drop_index('ix_payment_attempts_created_at', table_name='payment_attempts')
    op.drop_index('ix_payment_attempts_topup', table_name='payment_attempts')
    op.drop_index('ix_line_events_to_state_at', table_name='line_events')
    op.drop_index('ix_lines_live_number_loss', table_name='lines')
    op.drop_index('ix_topups_created_at', table_name='topups')
