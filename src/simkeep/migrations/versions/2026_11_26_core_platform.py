"""core platform

Revision ID: 0001
Revises: 
Create Date: 2026-11-26 07:10:57.935512
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    op.create_table('journal_entries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('reference', sa.String(length=160), nullable=False),
    sa.Column('created_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_entries')),
    sa.UniqueConstraint('reference', name=op.f('uq_journal_entries_reference'))
    )
    op.create_table('ledger_accounts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('balance_minor', sa.BigInteger(), nullable=True),
    sa.Column('created_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_accounts')),
    sa.UniqueConstraint('code', name=op.f('uq_ledger_accounts_code'))
    )
    op.create_table('operators',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('brand', sa.String(length=80), nullable=False),
    sa.Column('product', sa.String(length=120), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('initial_validity_days', sa.Integer(), nullable=False),
    sa.Column('grace_days', sa.Integer(), nullable=False),
    sa.Column('suspended_days', sa.Integer(), nullable=False),
    sa.Column('quarantine_days', sa.Integer(), nullable=False),
    sa.Column('max_validity_days', sa.Integer(), nullable=False),
    sa.Column('reminder_offsets', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('validity_stacking', sa.String(length=40), nullable=False),
    sa.Column('forfeit_balance_on', sa.String(length=20), nullable=True),
    sa.Column('catalog_version', sa.String(length=40), nullable=False),
    sa.Column('provenance', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_operators'))
    )
    op.create_table('lines',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('msisdn', sa.String(length=16), nullable=False),
    sa.Column('operator_id', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('credit_account_id', sa.Uuid(), nullable=False),
    sa.Column('bonus_account_id', sa.Uuid(), nullable=False),
    sa.Column('validity_ends_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('number_loss_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('available_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('next_sweep_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('reminded_offset', sa.Integer(), nullable=True),
    sa.Column('created_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('state_changed_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bonus_account_id'], ['ledger_accounts.id'], name=op.f('fk_lines_bonus_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['credit_account_id'], ['ledger_accounts.id'], name=op.f('fk_lines_credit_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_lines_operator_id_operators')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lines'))
    )
    with op.batch_alter_table('lines', schema=None) as batch_op:
        batch_op.create_index('ix_lines_msisdn_created', ['msisdn', 'created_at'], unique=False)
        batch_op.create_index('ix_lines_next_sweep_at', ['next_sweep_at'], unique=False)
        batch_op.create_index('uq_lines_live_msisdn', ['msisdn'], unique=True, sqlite_where=sa.text("state != 'available'"), postgresql_where=sa.text("state != 'available'"))

    op.create_table('offers',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('operator_id', sa.String(length=64), nullable=False),
    sa.Column('price_minor', sa.BigInteger(), nullable=False),
    sa.Column('bonus_minor', sa.BigInteger(), nullable=False),
    sa.Column('validity_days', sa.Integer(), nullable=False),
    sa.Column('provenance', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_offers_operator_id_operators')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offers'))
    )
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offers_operator_id'), ['operator_id'], unique=False)

    op.create_table('postings',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'], name=op.f('fk_postings_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['entry_id'], ['journal_entries.id'], name=op.f('fk_postings_entry_id_journal_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_postings'))
    )
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.create_index('ix_postings_account_id', ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_postings_entry_id'), ['entry_id'], unique=False)

    op.create_table('charges',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('principal', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('line_id', sa.Uuid(), nullable=False),
    sa.Column('msisdn', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('bonus_used_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('journal_entry_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['journal_entry_id'], ['journal_entries.id'], name=op.f('fk_charges_journal_entry_id_journal_entries')),
    sa.ForeignKeyConstraint(['line_id'], ['lines.id'], name=op.f('fk_charges_line_id_lines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_charges')),
    sa.UniqueConstraint('principal', 'idempotency_key', name=op.f('uq_charges_principal_idempotency_key'))
    )
    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.create_index('ix_charges_line_created', ['line_id', 'created_at'], unique=False)

    op.create_table('line_events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('line_id', sa.Uuid(), nullable=False),
    sa.Column('from_state', sa.String(length=12), nullable=True),
    sa.Column('to_state', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['line_id'], ['lines.id'], name=op.f('fk_line_events_line_id_lines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_line_events'))
    )
    with op.batch_alter_table('line_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_line_events_line_id'), ['line_id'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('dedup_key', sa.String(length=200), nullable=False),
    sa.Column('topic', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('line_id', sa.Uuid(), nullable=True),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('locked_until', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['line_id'], ['lines.id'], name=op.f('fk_outbox_line_id_lines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('dedup_key', name=op.f('uq_outbox_dedup_key'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_line_id'), ['line_id'], unique=False)

    op.create_table('topups',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('principal', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('line_id', sa.Uuid(), nullable=False),
    sa.Column('msisdn', sa.String(length=16), nullable=False),
    sa.Column('offer_id', sa.String(length=80), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('price_minor', sa.BigInteger(), nullable=False),
    sa.Column('bonus_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('validity_before', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('validity_ends_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('journal_entry_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['journal_entry_id'], ['journal_entries.id'], name=op.f('fk_topups_journal_entry_id_journal_entries')),
    sa.ForeignKeyConstraint(['line_id'], ['lines.id'], name=op.f('fk_topups_line_id_lines')),
    sa.ForeignKeyConstraint(['offer_id'], ['offers.id'], name=op.f('fk_topups_offer_id_offers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topups')),
    sa.UniqueConstraint('principal', 'idempotency_key', name=op.f('uq_topups_principal_idempotency_key'))
    )
    with op.batch_alter_table('topups', schema=None) as batch_op:
        batch_op.create_index('ix_topups_line_created', ['line_id', 'created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('topups', schema=None) as batch_op:
        batch_op.drop_index('ix_topups_line_created')

    op.drop_table('topups')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_line_id'))
        batch_op.drop_index('ix_outbox_due')

    op.drop_table('outbox')
    with op.batch_alter_table('line_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_line_events_line_id'))

    op.drop_table('line_events')
    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.drop_index('ix_charges_line_created')

    op.drop_table('charges')
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_postings_entry_id'))
        batch_op.drop_index('ix_postings_account_id')

    op.drop_table('postings')
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offers_operator_id'))

    op.drop_table('offers')
    with op.batch_alter_table('lines', schema=None) as batch_op:
        batch_op.drop_index('uq_lines_live_msisdn', sqlite_where=sa.text("state != 'available'"), postgresql_where=sa.text("state != 'available'"))
        batch_op.drop_index('ix_lines_next_sweep_at')
        batch_op.drop_index('ix_lines_msisdn_created')

    op.drop_table('lines')
    op.drop_table('operators')
    op.drop_table('ledger_accounts')
    op.drop_table('journal_entries')
    op.drop_table('api_keys')
