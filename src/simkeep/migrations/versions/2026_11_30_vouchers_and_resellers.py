"""vouchers and resellers

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 01:30:00
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db
from sqlalchemy.dialects import postgresql

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('voucher_actions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('serial_from', sa.BigInteger(), nullable=False),
    sa.Column('serial_to', sa.BigInteger(), nullable=False),
    sa.Column('params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('requested_by', sa.String(length=80), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('requested_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=80), nullable=True),
    sa.Column('decided_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voucher_actions'))
    )
    op.create_table('voucher_failures',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('msisdn', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('counted', sa.Boolean(), nullable=False),
    sa.Column('serial', sa.BigInteger(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voucher_failures'))
    )
    with op.batch_alter_table('voucher_failures', schema=None) as batch_op:
        batch_op.create_index('ix_voucher_failures_msisdn_at', ['msisdn', 'at'], unique=False)
        batch_op.create_index('ix_voucher_failures_serial', ['serial'], unique=False)

    op.create_table('voucher_serials',
    sa.Column('name', sa.String(length=20), nullable=False),
    sa.Column('next_serial', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_voucher_serials'))
    )
    op.create_table('resellers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('discount_bp', sa.Integer(), nullable=False),
    sa.Column('float_account_id', sa.Uuid(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('created_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('disabled_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['float_account_id'], ['ledger_accounts.id'], name=op.f('fk_resellers_float_account_id_ledger_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resellers')),
    sa.UniqueConstraint('code', name=op.f('uq_resellers_code'))
    )
    op.create_table('voucher_batches',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('operator_id', sa.String(length=64), nullable=False),
    sa.Column('offer_id', sa.String(length=80), nullable=False),
    sa.Column('face_value_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('validity_days', sa.Integer(), nullable=False),
    sa.Column('serial_from', sa.BigInteger(), nullable=False),
    sa.Column('serial_to', sa.BigInteger(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('expires_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('created_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('exported_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('exported_by', sa.String(length=80), nullable=True),
    sa.Column('export_sealed', sa.Text(), nullable=True),
    sa.Column('expired_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['offer_id'], ['offers.id'], name=op.f('fk_voucher_batches_offer_id_offers')),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_voucher_batches_operator_id_operators')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voucher_batches')),
    sa.UniqueConstraint('serial_from', name=op.f('uq_voucher_batches_serial_from'))
    )
    op.create_table('voucher_purchases',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('reseller_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('principal', sa.String(length=80), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('offer_id', sa.String(length=80), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('serial_from', sa.BigInteger(), nullable=False),
    sa.Column('serial_to', sa.BigInteger(), nullable=False),
    sa.Column('face_value_minor', sa.BigInteger(), nullable=False),
    sa.Column('paid_minor', sa.BigInteger(), nullable=False),
    sa.Column('commission_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('pins_sealed', sa.Text(), nullable=True),
    sa.Column('journal_entry_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['journal_entry_id'], ['journal_entries.id'], name=op.f('fk_voucher_purchases_journal_entry_id_journal_entries')),
    sa.ForeignKeyConstraint(['offer_id'], ['offers.id'], name=op.f('fk_voucher_purchases_offer_id_offers')),
    sa.ForeignKeyConstraint(['reseller_id'], ['resellers.id'], name=op.f('fk_voucher_purchases_reseller_id_resellers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voucher_purchases')),
    sa.UniqueConstraint('principal', 'idempotency_key', name=op.f('uq_voucher_purchases_principal_idempotency_key'))
    )
    with op.batch_alter_table('voucher_purchases', schema=None) as batch_op:
        batch_op.create_index('ix_voucher_purchases_reseller_created', ['reseller_id', 'created_at'], unique=False)

    op.create_table('vouchers',
    sa.Column('serial', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('batch_id', sa.Uuid(), nullable=False),
    sa.Column('pin_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('expires_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('reseller_id', sa.Uuid(), nullable=True),
    sa.Column('purchase_id', sa.Uuid(), nullable=True),
    sa.Column('sold_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('blocked_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('redeemed_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('redeemed_msisdn', sa.String(length=16), nullable=True),
    sa.Column('redeemed_via', sa.String(length=16), nullable=True),
    sa.Column('topup_id', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['voucher_batches.id'], name=op.f('fk_vouchers_batch_id_voucher_batches')),
    sa.ForeignKeyConstraint(['reseller_id'], ['resellers.id'], name=op.f('fk_vouchers_reseller_id_resellers')),
    sa.PrimaryKeyConstraint('serial', name=op.f('pk_vouchers')),
    sa.UniqueConstraint('pin_hash', name=op.f('uq_vouchers_pin_hash'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reseller_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_api_keys_reseller_id_resellers'), 'resellers', ['reseller_id'], ['id'])

    with op.batch_alter_table('staff_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reseller_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_staff_accounts_reseller_id_resellers'), 'resellers', ['reseller_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('staff_accounts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_staff_accounts_reseller_id_resellers'), type_='foreignkey')
        batch_op.drop_column('reseller_id')

    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_api_keys_reseller_id_resellers'), type_='foreignkey')
        batch_op.drop_column('reseller_id')

    op.drop_table('vouchers')
    with op.batch_alter_table('voucher_purchases', schema=None) as batch_op:
        batch_op.drop_index('ix_voucher_purchases_reseller_created')

    op.drop_table('voucher_purchases')
    op.drop_table('voucher_batches')
    op.drop_table('resellers')
    op.drop_table('voucher_serials')
    with op.batch_alter_table('voucher_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_voucher_failures_serial')
        batch_op.drop_index('ix_voucher_failures_msisdn_at')

    op.drop_table('voucher_failures')
    op.drop_table('voucher_actions')
