"""stores

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 03:42:00
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db
from sqlalchemy.dialects import postgresql

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stores',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('postcode', sa.String(length=16), nullable=False),
    sa.Column('city', sa.String(length=80), nullable=False),
    sa.Column('city_key', sa.String(length=80), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=False),
    sa.Column('longitude', sa.Float(), nullable=False),
    sa.Column('phone', sa.String(length=16), nullable=True),
    sa.Column('timezone', sa.String(length=40), nullable=False),
    sa.Column('hours', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('closed_on', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('operators', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('languages', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('services', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('demo', sa.Boolean(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'], name=op.f('fk_stores_account_id_ledger_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stores')),
    sa.UniqueConstraint('code', name=op.f('uq_stores_code'))
    )
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stores_city_key'), ['city_key'], unique=False)
        batch_op.create_index('ix_stores_latitude_longitude', ['latitude', 'longitude'], unique=False)
        batch_op.create_index('ix_stores_postcode', ['postcode'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        # "The nearest stores": a GiST index on each store's point on the earth (earthdistance over cube, both in
        # PostgreSQL's contrib and trusted, so the database owner may create them) answers ORDER BY <-> LIMIT k
        # by walking the index. SQLite uses the latitude/longitude index and the haversine formula (store/nearest.py).
        op.execute("CREATE EXTENSION IF NOT EXISTS cube")
        op.execute("CREATE EXTENSION IF NOT EXISTS earthdistance")
        op.execute("CREATE INDEX ix_stores_earth ON stores USING gist (ll_to_earth(latitude, longitude))")

    op.create_table('counter_devices',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('store_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('registered_by', sa.String(length=80), nullable=False),
    sa.Column('registered_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_counter_devices_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_counter_devices')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_counter_devices_token_hash'))
    )
    with op.batch_alter_table('counter_devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_counter_devices_store_id'), ['store_id'], unique=False)

    op.create_table('id_checks',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('store_id', sa.Uuid(), nullable=False),
    sa.Column('line_id', sa.Uuid(), nullable=False),
    sa.Column('document_type', sa.String(length=20), nullable=False),
    sa.Column('issuing_country', sa.String(length=2), nullable=False),
    sa.Column('last4', sa.String(length=4), nullable=False),
    sa.Column('checked_by', sa.String(length=80), nullable=False),
    sa.Column('checked_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['line_id'], ['lines.id'], name=op.f('fk_id_checks_line_id_lines')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_id_checks_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_id_checks'))
    )
    with op.batch_alter_table('id_checks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_id_checks_checked_at'), ['checked_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_id_checks_line_id'), ['line_id'], unique=False)

    op.create_table('store_drawers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('store_id', sa.Uuid(), nullable=False),
    sa.Column('agent_id', sa.Uuid(), nullable=False),
    sa.Column('open_for', sa.Uuid(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('opening_float_minor', sa.BigInteger(), nullable=False),
    sa.Column('opened_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.String(length=80), nullable=True),
    sa.Column('expected_minor', sa.BigInteger(), nullable=True),
    sa.Column('counted_minor', sa.BigInteger(), nullable=True),
    sa.Column('difference_minor', sa.BigInteger(), nullable=True),
    sa.Column('journal_entry_id', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['staff_accounts.id'], name=op.f('fk_store_drawers_agent_id_staff_accounts')),
    sa.ForeignKeyConstraint(['journal_entry_id'], ['journal_entries.id'], name=op.f('fk_store_drawers_journal_entry_id_journal_entries')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_store_drawers_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_store_drawers')),
    sa.UniqueConstraint('open_for', name=op.f('uq_store_drawers_open_for'))
    )
    with op.batch_alter_table('store_drawers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_store_drawers_store_id'), ['store_id'], unique=False)

    op.create_table('store_sales',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('store_id', sa.Uuid(), nullable=False),
    sa.Column('agent_id', sa.Uuid(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('drawer_id', sa.Uuid(), nullable=True),
    sa.Column('topup_id', sa.Uuid(), nullable=False),
    sa.Column('receipt_id', sa.Uuid(), nullable=False),
    sa.Column('line_id', sa.Uuid(), nullable=False),
    sa.Column('msisdn', sa.String(length=16), nullable=False),
    sa.Column('offer_id', sa.String(length=80), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('commission_minor', sa.BigInteger(), nullable=False),
    sa.Column('terminal_ref', sa.String(length=64), nullable=True),
    sa.Column('voucher_serial', sa.BigInteger(), nullable=True),
    sa.Column('created_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('voided_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('voided_by', sa.String(length=80), nullable=True),
    sa.Column('void_reason', sa.String(length=200), nullable=True),
    sa.Column('void_entry_id', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['staff_accounts.id'], name=op.f('fk_store_sales_agent_id_staff_accounts')),
    sa.ForeignKeyConstraint(['drawer_id'], ['store_drawers.id'], name=op.f('fk_store_sales_drawer_id_store_drawers')),
    sa.ForeignKeyConstraint(['line_id'], ['lines.id'], name=op.f('fk_store_sales_line_id_lines')),
    sa.ForeignKeyConstraint(['offer_id'], ['offers.id'], name=op.f('fk_store_sales_offer_id_offers')),
    sa.ForeignKeyConstraint(['receipt_id'], ['receipts.id'], name=op.f('fk_store_sales_receipt_id_receipts')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_store_sales_store_id_stores')),
    sa.ForeignKeyConstraint(['topup_id'], ['topups.id'], name=op.f('fk_store_sales_topup_id_topups')),
    sa.ForeignKeyConstraint(['void_entry_id'], ['journal_entries.id'], name=op.f('fk_store_sales_void_entry_id_journal_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_store_sales')),
    sa.UniqueConstraint('agent_id', 'idempotency_key', name=op.f('uq_store_sales_agent_id_idempotency_key')),
    sa.UniqueConstraint('receipt_id', name=op.f('uq_store_sales_receipt_id')),
    sa.UniqueConstraint('topup_id', name=op.f('uq_store_sales_topup_id'))
    )
    with op.batch_alter_table('store_sales', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_store_sales_drawer_id'), ['drawer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_store_sales_line_id'), ['line_id'], unique=False)
        batch_op.create_index('ix_store_sales_store_created', ['store_id', 'created_at'], unique=False)

    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('voided_at', simkeep.db.UtcDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('staff_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('store_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('pin_hash', sa.String(length=200), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_staff_accounts_store_id_stores'), 'stores', ['store_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('staff_accounts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_staff_accounts_store_id_stores'), type_='foreignkey')
        batch_op.drop_column('pin_hash')
        batch_op.drop_column('store_id')

    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.drop_column('voided_at')

    with op.batch_alter_table('store_sales', schema=None) as batch_op:
        batch_op.drop_index('ix_store_sales_store_created')
        batch_op.drop_index(batch_op.f('ix_store_sales_line_id'))
        batch_op.drop_index(batch_op.f('ix_store_sales_drawer_id'))

    op.drop_table('store_sales')
    with op.batch_alter_table('store_drawers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_store_drawers_store_id'))

    op.drop_table('store_drawers')
    with op.batch_alter_table('id_checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_id_checks_line_id'))
        batch_op.drop_index(batch_op.f('ix_id_checks_checked_at'))

    op.drop_table('id_checks')
    with op.batch_alter_table('counter_devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_counter_devices_store_id'))

    op.drop_table('counter_devices')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_stores_earth")
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_index('ix_stores_postcode')
        batch_op.drop_index('ix_stores_latitude_longitude')
        batch_op.drop_index(batch_op.f('ix_stores_city_key'))

    op.drop_table('stores')
