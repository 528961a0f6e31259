"""Shipping rates: zones (areas by country, region, postcode prefix or range), methods per zone and
their rates per currency.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 20:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('shipping_zones',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('channel_ids', postgresql.ARRAY(sa.Uuid()), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipping_zones')),
    sa.UniqueConstraint('code', name=op.f('uq_shipping_zones_code'))
    )
    op.create_table('shipping_zone_areas',
    sa.Column('zone_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('country_code', sa.String(length=2), nullable=False),
    sa.Column('region', sa.String(length=10), nullable=True),
    sa.Column('postal_prefix', sa.String(length=10), nullable=True),
    sa.Column('postal_from', sa.String(length=10), nullable=True),
    sa.Column('postal_to', sa.String(length=10), nullable=True),
    sa.CheckConstraint('num_nonnulls(region, postal_prefix, postal_from) <= 1',
                       name=op.f('ck_shipping_zone_areas_one_narrowing')),
    sa.CheckConstraint('(postal_from IS NULL) = (postal_to IS NULL)',
                       name=op.f('ck_shipping_zone_areas_postal_range_pair')),
    sa.ForeignKeyConstraint(['zone_id'], ['shipping_zones.id'],
                            name=op.f('fk_shipping_zone_areas_zone_id_shipping_zones'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('zone_id', 'position', name=op.f('pk_shipping_zone_areas'))
    )
    op.create_index('ix_shipping_zone_areas_country', 'shipping_zone_areas', ['country_code', 'zone_id'],
                    unique=False)
    op.create_table('shipping_methods',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('zone_id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('carrier', sa.String(length=100), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('min_days', sa.SmallInteger(), nullable=False),
    sa.Column('max_days', sa.SmallInteger(), nullable=False),
    sa.Column('tax_class', sa.String(length=20), nullable=False),
    sa.Column('warehouse_ids', postgresql.ARRAY(sa.Uuid()), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('flat', 'free_over', 'weight_tiers', 'price_tiers')",
                       name=op.f('ck_shipping_methods_kind')),
    sa.CheckConstraint('min_days >= 0 AND min_days <= max_days', name=op.f('ck_shipping_methods_days')),
    sa.ForeignKeyConstraint(['zone_id'], ['shipping_zones.id'],
                            name=op.f('fk_shipping_methods_zone_id_shipping_zones'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipping_methods')),
    sa.UniqueConstraint('zone_id', 'code', name=op.f('uq_shipping_methods_zone_id'))
    )
    op.create_table('shipping_method_rates',
    sa.Column('method_id', sa.Uuid(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=True),
    sa.Column('free_over', sa.BigInteger(), nullable=True),
    sa.Column('tiers', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.CheckConstraint('amount IS NULL OR amount >= 0', name=op.f('ck_shipping_method_rates_amount_not_negative')),
    sa.CheckConstraint('free_over IS NULL OR free_over >= 0',
                       name=op.f('ck_shipping_method_rates_free_over_not_negative')),
    sa.ForeignKeyConstraint(['method_id'], ['shipping_methods.id'],
                            name=op.f('fk_shipping_method_rates_method_id_shipping_methods'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('method_id', 'currency', name=op.f('pk_shipping_method_rates'))
    )


def downgrade() -> None:
    op.drop_table('shipping_method_rates')
    op.drop_table('shipping_methods')
    op.drop_index('ix_shipping_zone_areas_country', table_name='shipping_zone_areas')
    op.drop_table('shipping_zone_areas')
    op.drop_table('shipping_zones')
