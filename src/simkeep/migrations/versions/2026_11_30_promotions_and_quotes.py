"""promotions and quotes

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 06:40:00
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db
from sqlalchemy.dialects import postgresql

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('promotions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('starts_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('operator_id', sa.String(length=64), nullable=True),
    sa.Column('offer_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('channels', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('line_states', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('languages', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('first_renewal_only', sa.Boolean(), nullable=False),
    sa.Column('per_line_limit', sa.Integer(), nullable=True),
    sa.Column('benefit', sa.String(length=20), nullable=False),
    sa.Column('benefit_value', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('stackable', sa.Boolean(), nullable=False),
    sa.Column('max_uses', sa.Integer(), nullable=True),
    sa.Column('budget_minor', sa.BigInteger(), nullable=True),
    sa.Column('uses', sa.Integer(), nullable=False),
    sa.Column('spent_minor', sa.BigInteger(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_promotions_operator_id_operators')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotions')),
    sa.UniqueConstraint('code', name=op.f('uq_promotions_code'))
    )
    with op.batch_alter_table('promotions', schema=None) as batch_op:
        batch_op.create_index('ix_promotions_live', ['state', 'ends_at'], unique=False)

    op.create_table('quotes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('line_id', sa.Uuid(), nullable=False),
    sa.Column('msisdn', sa.String(length=16), nullable=False),
    sa.Column('operator_id', sa.String(length=64), nullable=False),
    sa.Column('offer_id', sa.String(length=80), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=True),
    sa.Column('partner_code', sa.String(length=32), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('list_minor', sa.BigInteger(), nullable=False),
    sa.Column('discount_minor', sa.BigInteger(), nullable=False),
    sa.Column('price_minor', sa.BigInteger(), nullable=False),
    sa.Column('bonus_minor', sa.BigInteger(), nullable=False),
    sa.Column('promotion_bonus_minor', sa.BigInteger(), nullable=False),
    sa.Column('bonus_days', sa.Integer(), nullable=False),
    sa.Column('cashback_minor', sa.BigInteger(), nullable=False),
    sa.Column('validity_ends_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('applied', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('topup_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['line_id'], ['lines.id'], name=op.f('fk_quotes_line_id_lines')),
    sa.ForeignKeyConstraint(['offer_id'], ['offers.id'], name=op.f('fk_quotes_offer_id_offers')),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_quotes_operator_id_operators')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quotes'))
    )
    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.create_index('ix_quotes_line', ['line_id', 'created_at'], unique=False)

    op.create_table('promotion_uses',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('promotion_id', sa.Uuid(), nullable=False),
    sa.Column('quote_id', sa.Uuid(), nullable=False),
    sa.Column('line_id', sa.Uuid(), nullable=False),
    sa.Column('cost_minor', sa.BigInteger(), nullable=False),
    sa.Column('bonus_days', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('topup_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['line_id'], ['lines.id'], name=op.f('fk_promotion_uses_line_id_lines')),
    sa.ForeignKeyConstraint(['promotion_id'], ['promotions.id'], name=op.f('fk_promotion_uses_promotion_id_promotions')),
    sa.ForeignKeyConstraint(['quote_id'], ['quotes.id'], name=op.f('fk_promotion_uses_quote_id_quotes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotion_uses')),
    sa.UniqueConstraint('promotion_id', 'quote_id', name=op.f('uq_promotion_uses_promotion_id_quote_id'))
    )
    with op.batch_alter_table('promotion_uses', schema=None) as batch_op:
        batch_op.create_index('ix_promotion_uses_line', ['promotion_id', 'line_id'], unique=False)

    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('periods', sa.Integer(), nullable=False, server_default='1'))

    with op.batch_alter_table('topups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quote_id', sa.Uuid(), nullable=True))

    with op.batch_alter_table('payment_attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quote_id', sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('payment_attempts', schema=None) as batch_op:
        batch_op.drop_column('quote_id')

    with op.batch_alter_table('topups', schema=None) as batch_op:
        batch_op.drop_column('quote_id')

    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.drop_column('periods')

    with op.batch_alter_table('promotion_uses', schema=None) as batch_op:
        batch_op.drop_index('ix_promotion_uses_line')

    op.drop_table('promotion_uses')
    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.drop_index('ix_quotes_line')

    op.drop_table('quotes')
    with op.batch_alter_table('promotions', schema=None) as batch_op:
        batch_op.drop_index('ix_promotions_live')

    op.drop_table('promotions')
