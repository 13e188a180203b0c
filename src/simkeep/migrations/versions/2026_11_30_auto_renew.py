"""auto renew: saved payment methods, auto-renew settings and charges; payment_attempts.channel

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 06:43:00
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db
from sqlalchemy.dialects import postgresql

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('saved_payment_methods',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('line_id', sa.Uuid(), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('customer_ref', sa.String(length=80), nullable=True),
    sa.Column('method_ref', sa.String(length=120), nullable=False),
    sa.Column('label', sa.String(length=60), nullable=False),
    sa.Column('created_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('removed_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['line_id'], ['lines.id'], name=op.f('fk_saved_payment_methods_line_id_lines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_payment_methods')),
    sa.UniqueConstraint('provider', 'method_ref', name=op.f('uq_saved_payment_methods_provider_method_ref'))
    )
    with op.batch_alter_table('saved_payment_methods', schema=None) as batch_op:
        batch_op.create_index('ix_saved_payment_methods_line', ['line_id'], unique=False)

    op.create_table('auto_renew_settings',
    sa.Column('line_id', sa.Uuid(), nullable=False),
    sa.Column('offer_id', sa.String(length=80), nullable=False),
    sa.Column('mode', sa.String(length=12), nullable=False),
    sa.Column('days_before', sa.Integer(), nullable=False),
    sa.Column('method_id', sa.Uuid(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('changed_by', sa.String(length=80), nullable=False),
    sa.Column('changed_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('created_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['line_id'], ['lines.id'], name=op.f('fk_auto_renew_settings_line_id_lines')),
    sa.ForeignKeyConstraint(['method_id'], ['saved_payment_methods.id'], name=op.f('fk_auto_renew_settings_method_id_saved_payment_methods')),
    sa.ForeignKeyConstraint(['offer_id'], ['offers.id'], name=op.f('fk_auto_renew_settings_offer_id_offers')),
    sa.PrimaryKeyConstraint('line_id', name=op.f('pk_auto_renew_settings'))
    )
    with op.batch_alter_table('auto_renew_settings', schema=None) as batch_op:
        batch_op.create_index('ix_auto_renew_settings_enabled', ['enabled', 'line_id'], unique=False)

    op.create_table('auto_renew_charges',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('line_id', sa.Uuid(), nullable=False),
    sa.Column('period_end', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('offer_id', sa.String(length=80), nullable=False),
    sa.Column('method_id', sa.Uuid(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('tries', sa.Integer(), nullable=False),
    sa.Column('attempt_id', sa.Uuid(), nullable=True),
    sa.Column('failure', sa.String(length=80), nullable=True),
    sa.Column('next_retry_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['attempt_id'], ['payment_attempts.id'], name=op.f('fk_auto_renew_charges_attempt_id_payment_attempts')),
    sa.ForeignKeyConstraint(['line_id'], ['lines.id'], name=op.f('fk_auto_renew_charges_line_id_lines')),
    sa.ForeignKeyConstraint(['method_id'], ['saved_payment_methods.id'], name=op.f('fk_auto_renew_charges_method_id_saved_payment_methods')),
    sa.ForeignKeyConstraint(['offer_id'], ['offers.id'], name=op.f('fk_auto_renew_charges_offer_id_offers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auto_renew_charges')),
    sa.UniqueConstraint('line_id', 'period_end', name=op.f('uq_auto_renew_charges_line_id_period_end'))
    )
    with op.batch_alter_table('auto_renew_charges', schema=None) as batch_op:
        batch_op.create_index('ix_auto_renew_charges_retry', ['state', 'next_retry_at'], unique=False)

    with op.batch_alter_table('payment_attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=16), nullable=True))

    with op.batch_alter_table('sandbox_payments', schema=None) as batch_op:
        batch_op.create_index('ix_sandbox_payments_merchant_ref', ['merchant_ref'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sandbox_payments', schema=None) as batch_op:
        batch_op.drop_index('ix_sandbox_payments_merchant_ref')

    with op.batch_alter_table('payment_attempts', schema=None) as batch_op:
        batch_op.drop_column('channel')

    with op.batch_alter_table('auto_renew_charges', schema=None) as batch_op:
        batch_op.drop_index('ix_auto_renew_charges_retry')

    op.drop_table('auto_renew_charges')
    with op.batch_alter_table('auto_renew_settings', schema=None) as batch_op:
        batch_op.drop_index('ix_auto_renew_settings_enabled')

    op.drop_table('auto_renew_settings')
    with op.batch_alter_table('saved_payment_methods', schema=None) as batch_op:
        batch_op.drop_index('ix_saved_payment_methods_line')

    op.drop_table('saved_payment_methods')
