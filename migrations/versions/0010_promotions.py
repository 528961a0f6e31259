"""Promotions: automatic and coupon promotions, their codes, per-customer use counters and the
redemption log (one row per promotion and order).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 20:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('promotions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('trigger', sa.String(length=10), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('channel_ids', postgresql.ARRAY(sa.Uuid()), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('exclusive', sa.Boolean(), nullable=False),
    sa.Column('stackable', sa.Boolean(), nullable=False),
    sa.Column('benefit', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('conditions', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('per_customer_limit', sa.Integer(), nullable=True),
    sa.Column('usage_limit', sa.Integer(), nullable=True),
    sa.Column('uses', sa.Integer(), server_default='0', nullable=False),
    sa.Column('budget', sa.BigInteger(), nullable=True),
    sa.Column('spent', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('max_discount_amount', sa.BigInteger(), nullable=True),
    sa.Column('max_discount_ppm', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("trigger IN ('automatic', 'coupon')", name=op.f('ck_promotions_trigger')),
    sa.CheckConstraint('budget IS NULL OR budget >= 0', name=op.f('ck_promotions_budget_not_negative')),
    sa.CheckConstraint('max_discount_amount IS NULL OR max_discount_amount >= 0', name=op.f('ck_promotions_max_discount_amount')),
    sa.CheckConstraint('max_discount_ppm IS NULL OR max_discount_ppm BETWEEN 1 AND 1000000', name=op.f('ck_promotions_max_discount_ppm')),
    sa.CheckConstraint('per_customer_limit IS NULL OR per_customer_limit >= 1', name=op.f('ck_promotions_per_customer_limit_positive')),
    sa.CheckConstraint('spent >= 0 AND (budget IS NULL OR spent <= budget)', name=op.f('ck_promotions_spent')),
    sa.CheckConstraint('starts_at IS NULL OR ends_at IS NULL OR starts_at < ends_at', name=op.f('ck_promotions_window')),
    sa.CheckConstraint('usage_limit IS NULL OR usage_limit >= 1', name=op.f('ck_promotions_usage_limit_positive')),
    sa.CheckConstraint('uses >= 0 AND (usage_limit IS NULL OR uses <= usage_limit)', name=op.f('ck_promotions_uses')),
    sa.ForeignKeyConstraint(['currency'], ['currencies.code'], name=op.f('fk_promotions_currency_currencies'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotions'))
    )
    op.create_index('ix_promotions_automatic', 'promotions', ['priority'], unique=False, postgresql_where=sa.text("is_active AND trigger = 'automatic'"))
    op.create_index('ix_promotions_channels', 'promotions', ['channel_ids'], unique=False, postgresql_using='gin')
    op.create_table('promotion_codes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('promotion_id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('max_uses', sa.Integer(), nullable=True),
    sa.Column('uses', sa.Integer(), server_default='0', nullable=False),
    sa.Column('batch_id', sa.Uuid(), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('max_uses IS NULL OR max_uses >= 1', name=op.f('ck_promotion_codes_max_uses_positive')),
    sa.CheckConstraint('uses >= 0 AND (max_uses IS NULL OR uses <= max_uses)', name=op.f('ck_promotion_codes_uses')),
    sa.ForeignKeyConstraint(['promotion_id'], ['promotions.id'], name=op.f('fk_promotion_codes_promotion_id_promotions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotion_codes')),
    sa.UniqueConstraint('code', name=op.f('uq_promotion_codes_code'))
    )
    op.create_index('ix_promotion_codes_batch', 'promotion_codes', ['batch_id', 'id'], unique=False, postgresql_where=sa.text('batch_id IS NOT NULL'))
    op.create_index('ix_promotion_codes_promotion', 'promotion_codes', ['promotion_id', 'id'], unique=False)
    op.create_table('promotion_customer_uses',
    sa.Column('promotion_id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('uses', sa.Integer(), nullable=False),
    sa.CheckConstraint('uses >= 1', name=op.f('ck_promotion_customer_uses_uses_positive')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_promotion_customer_uses_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['promotion_id'], ['promotions.id'], name=op.f('fk_promotion_customer_uses_promotion_id_promotions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('promotion_id', 'customer_id', name=op.f('pk_promotion_customer_uses'))
    )
    op.create_index('ix_promotion_customer_uses_customer', 'promotion_customer_uses', ['customer_id'], unique=False)
    op.create_table('promotion_redemptions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('promotion_id', sa.Uuid(), nullable=False),
    sa.Column('order_id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=True),
    sa.Column('customer_id', sa.Uuid(), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_promotion_redemptions_amount_not_negative')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_promotion_redemptions_customer_id_customers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['promotion_id'], ['promotions.id'], name=op.f('fk_promotion_redemptions_promotion_id_promotions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotion_redemptions')),
    sa.UniqueConstraint('promotion_id', 'order_id', name=op.f('uq_promotion_redemptions_promotion_id'))
    )
    op.create_index('ix_promotion_redemptions_customer', 'promotion_redemptions', ['customer_id'], unique=False)
    op.create_index('ix_promotion_redemptions_order', 'promotion_redemptions', ['order_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_promotion_redemptions_order', table_name='promotion_redemptions')
    op.drop_index('ix_promotion_redemptions_customer', table_name='promotion_redemptions')
    op.drop_table('promotion_redemptions')
    op.drop_index('ix_promotion_customer_uses_customer', table_name='promotion_customer_uses')
    op.drop_table('promotion_customer_uses')
    op.drop_index('ix_promotion_codes_promotion', table_name='promotion_codes')
    op.drop_index('ix_promotion_codes_batch', table_name='promotion_codes', postgresql_where=sa.text('batch_id IS NOT NULL'))
    op.drop_table('promotion_codes')
    op.drop_index('ix_promotions_channels', table_name='promotions', postgresql_using='gin')
    op.drop_index('ix_promotions_automatic', table_name='promotions', postgresql_where=sa.text("is_active AND trigger = 'automatic'"))
    op.drop_table('promotions')
