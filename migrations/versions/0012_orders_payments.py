"""Orders, their lines and events; payments and their transactions.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 23:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ORDER_STATUSES = "status IN ('pending', 'confirmed', 'processing', 'completed', 'cancelled')"
_ORDER_PAYMENT_STATUSES = ("payment_status IN ('pending', 'requires_action', 'authorized', 'captured', 'failed', "
                           "'declined', 'voided', 'partially_refunded', 'refunded')")
_FULFILLMENT_STATUSES = "fulfillment_status IN ('unfulfilled', 'partially_fulfilled', 'fulfilled', 'returned')"
_PAYMENT_STATUSES = ("status IN ('pending', 'authorized', 'requires_action', 'declined', 'failed', 'captured', "
                     "'voided', 'refunded')")
_TRANSACTION_KINDS = "kind IN ('authorize', 'capture', 'void', 'refund', 'confirm')"
_TRANSACTION_STATUSES = ("status IN ('authorized', 'declined', 'requires_action', 'error', 'captured', 'voided', "
                         "'refunded')")


def upgrade() -> None:
    op.execute("CREATE SEQUENCE order_number_seq START WITH 100001")
    op.create_table('orders',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('number', sa.String(length=32), server_default=sa.text("'M-' || nextval('order_number_seq')"), nullable=False),
    sa.Column('channel_id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('payment_status', sa.String(length=20), nullable=False),
    sa.Column('fulfillment_status', sa.String(length=20), nullable=False),
    sa.Column('subtotal', sa.BigInteger(), nullable=False),
    sa.Column('discount', sa.BigInteger(), nullable=False),
    sa.Column('shipping', sa.BigInteger(), nullable=False),
    sa.Column('tax', sa.BigInteger(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('prices_include_tax', sa.Boolean(), nullable=False),
    sa.Column('shipping_address', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('billing_address', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('shipping_option', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('breakdown', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'"), nullable=False),
    sa.Column('coupons', postgresql.ARRAY(sa.String(length=64)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('cart_id', sa.Uuid(), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint(_ORDER_STATUSES, name=op.f('ck_orders_status')),
    sa.CheckConstraint(_ORDER_PAYMENT_STATUSES, name=op.f('ck_orders_payment_status')),
    sa.CheckConstraint(_FULFILLMENT_STATUSES, name=op.f('ck_orders_fulfillment_status')),
    sa.CheckConstraint('subtotal >= 0 AND discount >= 0 AND shipping >= 0 AND tax >= 0 AND total >= 0',
                       name=op.f('ck_orders_amounts_not_negative')),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_orders_channel_id_channels'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['currency'], ['currencies.code'], name=op.f('fk_orders_currency_currencies'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_orders_customer_id_customers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('number', name=op.f('uq_orders_number'))
    )
    op.execute("ALTER SEQUENCE order_number_seq OWNED BY orders.number")
    op.create_index('uq_orders_cart_id', 'orders', ['cart_id'], unique=True, postgresql_where=sa.text('cart_id IS NOT NULL'))
    op.create_index('ix_orders_customer', 'orders', ['customer_id', 'created_at', 'id'], unique=False, postgresql_where=sa.text('customer_id IS NOT NULL'))
    op.create_index('ix_orders_created', 'orders', ['created_at', 'id'], unique=False)
    op.create_index('ix_orders_status', 'orders', ['status', 'created_at', 'id'], unique=False)
    op.create_index('ix_orders_email', 'orders', ['email', 'created_at', 'id'], unique=False)
    op.create_table('order_lines',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('order_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('variant_id', sa.Uuid(), nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price', sa.BigInteger(), nullable=False),
    sa.Column('subtotal', sa.BigInteger(), nullable=False),
    sa.Column('discount', sa.BigInteger(), nullable=False),
    sa.Column('tax', sa.BigInteger(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('tax_rate_ppm', sa.Integer(), nullable=False),
    sa.Column('breakdown', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'"), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_order_lines_quantity_positive')),
    sa.CheckConstraint('unit_price >= 0 AND subtotal >= 0 AND discount >= 0 AND tax >= 0 AND total >= 0',
                       name=op.f('ck_order_lines_amounts_not_negative')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_lines_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_lines'))
    )
    op.create_index('ix_order_lines_order', 'order_lines', ['order_id', 'position'], unique=False)
    op.create_table('order_events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('order_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=50), nullable=False),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_events_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_events'))
    )
    op.create_index('ix_order_events_order', 'order_events', ['order_id', 'created_at', 'id'], unique=False)
    op.create_table('payments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('order_id', sa.Uuid(), nullable=False),
    sa.Column('gateway', sa.String(length=50), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('psp_reference', sa.String(length=255), nullable=True),
    sa.Column('decline_code', sa.String(length=100), nullable=True),
    sa.Column('message', sa.String(length=500), nullable=True),
    sa.Column('next_action', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint(_PAYMENT_STATUSES, name=op.f('ck_payments_status')),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_payments_amount_not_negative')),
    sa.ForeignKeyConstraint(['currency'], ['currencies.code'], name=op.f('fk_payments_currency_currencies'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_payments_order_id_orders'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('gateway', 'idempotency_key', name=op.f('uq_payments_gateway'))
    )
    op.create_index('ix_payments_order', 'payments', ['order_id', 'created_at'], unique=False)
    op.create_table('payment_transactions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('payment_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('psp_reference', sa.String(length=255), nullable=True),
    sa.Column('decline_code', sa.String(length=100), nullable=True),
    sa.Column('raw', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint(_TRANSACTION_KINDS, name=op.f('ck_payment_transactions_kind')),
    sa.CheckConstraint(_TRANSACTION_STATUSES, name=op.f('ck_payment_transactions_status')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_payment_transactions_payment_id_payments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_transactions'))
    )
    op.create_index('ix_payment_transactions_payment', 'payment_transactions', ['payment_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_payment_transactions_payment', table_name='payment_transactions')
    op.drop_table('payment_transactions')
    op.drop_index('ix_payments_order', table_name='payments')
    op.drop_table('payments')
    op.drop_index('ix_order_events_order', table_name='order_events')
    op.drop_table('order_events')
    op.drop_index('ix_order_lines_order', table_name='order_lines')
    op.drop_table('order_lines')
    op.drop_index('ix_orders_email', table_name='orders')
    op.drop_index('ix_orders_status', table_name='orders')
    op.drop_index('ix_orders_created', table_name='orders')
    op.drop_index('ix_orders_customer', table_name='orders', postgresql_where=sa.text('customer_id IS NOT NULL'))
    op.drop_index('uq_orders_cart_id', table_name='orders', postgresql_where=sa.text('cart_id IS NOT NULL'))
    op.drop_table('orders')  # drops order_number_seq with it (OWNED BY orders.number)
    op.execute("DROP SEQUENCE IF EXISTS order_number_seq")
