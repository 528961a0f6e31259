"""Pricing: customer groups and their members, price lists per channel with quantity-tier entries.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 16:33:17.544455
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('customer_groups',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_groups')),
    sa.UniqueConstraint('code', name=op.f('uq_customer_groups_code'))
    )
    op.create_table('customer_group_members',
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_group_members_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['group_id'], ['customer_groups.id'], name=op.f('fk_customer_group_members_group_id_customer_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', 'customer_id', name=op.f('pk_customer_group_members'))
    )
    op.create_index('ix_customer_group_members_customer', 'customer_group_members', ['customer_id', 'group_id'], unique=False)
    op.create_table('price_lists',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('channel_id', sa.Uuid(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('customer_group_id', sa.Uuid(), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=True),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('valid_from IS NULL OR valid_to IS NULL OR valid_from < valid_to', name=op.f('ck_price_lists_window')),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_price_lists_channel_id_channels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_group_id'], ['customer_groups.id'], name=op.f('fk_price_lists_customer_group_id_customer_groups'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_lists'))
    )
    op.create_index('ix_price_lists_channel', 'price_lists', ['channel_id', 'is_active'], unique=False)
    op.create_index('ix_price_lists_customer_group', 'price_lists', ['customer_group_id'], unique=False)
    op.create_table('price_list_entries',
    sa.Column('price_list_id', sa.Uuid(), nullable=False),
    sa.Column('variant_id', sa.Uuid(), nullable=False),
    sa.Column('min_quantity', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_price_list_entries_amount_not_negative')),
    sa.CheckConstraint('min_quantity >= 1', name=op.f('ck_price_list_entries_min_quantity_positive')),
    sa.ForeignKeyConstraint(['price_list_id'], ['price_lists.id'], name=op.f('fk_price_list_entries_price_list_id_price_lists'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['variant_id'], ['variants.id'], name=op.f('fk_price_list_entries_variant_id_variants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('price_list_id', 'variant_id', 'min_quantity', name=op.f('pk_price_list_entries'))
    )
    op.create_index('ix_price_list_entries_variant', 'price_list_entries', ['variant_id', 'min_quantity'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_price_list_entries_variant', table_name='price_list_entries')
    op.drop_table('price_list_entries')
    op.drop_index('ix_price_lists_customer_group', table_name='price_lists')
    op.drop_index('ix_price_lists_channel', table_name='price_lists')
    op.drop_table('price_lists')
    op.drop_index('ix_customer_group_members_customer', table_name='customer_group_members')
    op.drop_table('customer_group_members')
    op.drop_table('customer_groups')
