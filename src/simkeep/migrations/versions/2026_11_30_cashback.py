"""cashback: partners, their conversions, customers' cashback

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 06:42:00
"""
from alembic import op
import sqlalchemy as sa
import simkeep.db
from sqlalchemy.dialects import postgresql

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('partners',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('percent_bp', sa.Integer(), nullable=False),
    sa.Column('fixed_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('postback_url', sa.String(length=500), nullable=True),
    sa.Column('secret', sa.String(length=120), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partners')),
    sa.UniqueConstraint('code', name=op.f('uq_partners_code'))
    )
    op.create_table('customer_cashbacks',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('topup_id', sa.Uuid(), nullable=False),
    sa.Column('quote_id', sa.Uuid(), nullable=False),
    sa.Column('line_id', sa.Uuid(), nullable=False),
    sa.Column('msisdn', sa.String(length=16), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('created_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('credited_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('clawed_back_minor', sa.BigInteger(), nullable=False),
    sa.Column('lost_minor', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['line_id'], ['lines.id'], name=op.f('fk_customer_cashbacks_line_id_lines')),
    sa.ForeignKeyConstraint(['quote_id'], ['quotes.id'], name=op.f('fk_customer_cashbacks_quote_id_quotes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_cashbacks')),
    sa.UniqueConstraint('topup_id', name=op.f('uq_customer_cashbacks_topup_id'))
    )
    with op.batch_alter_table('customer_cashbacks', schema=None) as batch_op:
        batch_op.create_index('ix_customer_cashbacks_due', ['state', 'created_at'], unique=False)

    op.create_table('partner_conversions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('partner_id', sa.Uuid(), nullable=False),
    sa.Column('topup_id', sa.Uuid(), nullable=False),
    sa.Column('quote_id', sa.Uuid(), nullable=False),
    sa.Column('line_id', sa.Uuid(), nullable=False),
    sa.Column('offer_id', sa.String(length=80), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('commission_minor', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('created_at', simkeep.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('reversed_at', simkeep.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['line_id'], ['lines.id'], name=op.f('fk_partner_conversions_line_id_lines')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_partner_conversions_partner_id_partners')),
    sa.ForeignKeyConstraint(['quote_id'], ['quotes.id'], name=op.f('fk_partner_conversions_quote_id_quotes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_conversions')),
    sa.UniqueConstraint('topup_id', name=op.f('uq_partner_conversions_topup_id'))
    )
    with op.batch_alter_table('partner_conversions', schema=None) as batch_op:
        batch_op.create_index('ix_partner_conversions_month', ['partner_id', 'created_at'], unique=False)
        batch_op.create_index('ix_partner_conversions_pending', ['state', 'created_at'], unique=False)
        batch_op.create_index('ix_partner_conversions_reversed', ['partner_id', 'reversed_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('partner_conversions', schema=None) as batch_op:
        batch_op.drop_index('ix_partner_conversions_reversed')
        batch_op.drop_index('ix_partner_conversions_pending')
        batch_op.drop_index('ix_partner_conversions_month')

    op.drop_table('partner_conversions')
    with op.batch_alter_table('customer_cashbacks', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_cashbacks_due')

    op.drop_table('customer_cashbacks')
    op.drop_table('partners')
