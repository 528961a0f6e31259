"""Carts, their lines and coupons.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 23:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('carts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('channel_id', sa.Uuid(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.String(length=10), server_default='active', nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('shipping_address', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('billing_address', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('shipping_option_id', sa.String(length=200), nullable=True),
    sa.Column('shipping_quote', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('coupons', postgresql.ARRAY(sa.String(length=64)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('abandoned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('order_id', sa.Uuid(), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('active', 'completed')", name=op.f('ck_carts_status')),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_carts_channel_id_channels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_carts_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_carts'))
    )
    op.create_index('ix_carts_customer_channel', 'carts', ['customer_id', 'channel_id'], unique=True, postgresql_where=sa.text("status = 'active' AND customer_id IS NOT NULL"))
    op.create_index('ix_carts_expires_at', 'carts', ['expires_at'], unique=False)
    op.create_index('ix_carts_abandonment', 'carts', ['updated_at'], unique=False, postgresql_where=sa.text("status = 'active' AND abandoned_at IS NULL AND email IS NOT NULL"))
    op.create_table('cart_lines',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('cart_id', sa.Uuid(), nullable=False),
    sa.Column('variant_id', sa.Uuid(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('quantity BETWEEN 1 AND 1000', name=op.f('ck_cart_lines_quantity')),
    sa.CheckConstraint('unit_price >= 0', name=op.f('ck_cart_lines_unit_price_not_negative')),
    sa.ForeignKeyConstraint(['cart_id'], ['carts.id'], name=op.f('fk_cart_lines_cart_id_carts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['variant_id'], ['variants.id'], name=op.f('fk_cart_lines_variant_id_variants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cart_lines')),
    sa.UniqueConstraint('cart_id', 'variant_id', name=op.f('uq_cart_lines_cart_id'))
    )
    op.create_index('ix_cart_lines_variant_id', 'cart_lines', ['variant_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_cart_lines_variant_id', table_name='cart_lines')
    op.drop_table('cart_lines')
    op.drop_index('ix_carts_abandonment', table_name='carts', postgresql_where=sa.text("status = 'active' AND abandoned_at IS NULL AND email IS NOT NULL"))
    op.drop_index('ix_carts_expires_at', table_name='carts')
    op.drop_index('ix_carts_customer_channel', table_name='carts', postgresql_where=sa.text("status = 'active' AND customer_id IS NOT NULL"))
    op.drop_table('carts')
