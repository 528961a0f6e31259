"""Catalogue: categories, brands, product types, products, variants, channel prices, media, listings.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 14:48:04.637094
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('brands',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('slug', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_brands')),
    sa.UniqueConstraint('slug', name=op.f('uq_brands_slug'))
    )
    op.create_table('categories',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('parent_id', sa.Uuid(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('slug', sa.String(length=200), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('depth', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('external_ref', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['categories.id'], name=op.f('fk_categories_parent_id_categories'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_categories')),
    sa.UniqueConstraint('external_ref', name=op.f('uq_categories_external_ref')),
    sa.UniqueConstraint('slug', name=op.f('uq_categories_slug'))
    )
    op.create_index('ix_categories_parent_id', 'categories', ['parent_id', 'position'], unique=False)
    op.create_index('ix_categories_path', 'categories', ['path'], unique=False, postgresql_ops={'path': 'text_pattern_ops'})
    op.create_table('product_types',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('slug', sa.String(length=200), nullable=False),
    sa.Column('attributes', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'"), nullable=False),
    sa.Column('variant_options', postgresql.ARRAY(sa.String(length=50)), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_types')),
    sa.UniqueConstraint('name', name=op.f('uq_product_types_name')),
    sa.UniqueConstraint('slug', name=op.f('uq_product_types_slug'))
    )
    op.create_table('products',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('slug', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('product_type_id', sa.Uuid(), nullable=True),
    sa.Column('brand_id', sa.Uuid(), nullable=True),
    sa.Column('category_id', sa.Uuid(), nullable=True),
    sa.Column('tags', postgresql.ARRAY(sa.String(length=50)), nullable=False),
    sa.Column('attributes', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('seo_title', sa.String(length=300), nullable=True),
    sa.Column('seo_description', sa.String(length=500), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rating_avg', sa.Integer(), nullable=False),
    sa.Column('rating_count', sa.Integer(), nullable=False),
    sa.Column('popularity', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'in_review', 'published', 'archived')", name=op.f('ck_products_status')),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_products_brand_id_brands'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_products_category_id_categories'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['product_type_id'], ['product_types.id'], name=op.f('fk_products_product_type_id_product_types'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_products')),
    sa.UniqueConstraint('slug', name=op.f('uq_products_slug'))
    )
    op.create_index('ix_products_brand_id', 'products', ['brand_id'], unique=False)
    op.create_index('ix_products_category_id', 'products', ['category_id'], unique=False)
    op.create_table('product_listings',
    sa.Column('product_id', sa.Uuid(), nullable=False),
    sa.Column('channel_id', sa.Uuid(), nullable=False),
    sa.Column('slug', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('category_path', sa.Text(), nullable=True),
    sa.Column('brand_id', sa.Uuid(), nullable=True),
    sa.Column('min_price', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('in_stock', sa.Boolean(), nullable=False),
    sa.Column('thumbnail', sa.Text(), nullable=True),
    sa.Column('rating_avg', sa.Integer(), nullable=False),
    sa.Column('popularity', sa.Integer(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_product_listings_channel_id_channels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_product_listings_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('product_id', 'channel_id', name=op.f('pk_product_listings')),
    sa.UniqueConstraint('channel_id', 'slug', name='uq_product_listings_channel_id_slug')
    )
    op.create_index('ix_product_listings_category', 'product_listings', ['channel_id', 'category_path'], unique=False, postgresql_ops={'category_path': 'text_pattern_ops'})
    op.create_index('ix_product_listings_name', 'product_listings', ['channel_id', 'name', 'product_id'], unique=False)
    op.create_index('ix_product_listings_newest', 'product_listings', ['channel_id', sa.literal_column('published_at DESC'), sa.literal_column('product_id DESC')], unique=False)
    op.create_index('ix_product_listings_popularity', 'product_listings', ['channel_id', sa.literal_column('popularity DESC'), sa.literal_column('product_id DESC')], unique=False)
    op.create_index('ix_product_listings_price', 'product_listings', ['channel_id', 'min_price', 'product_id'], unique=False)
    op.create_index('ix_product_listings_rating', 'product_listings', ['channel_id', sa.literal_column('rating_avg DESC'), sa.literal_column('product_id DESC')], unique=False)
    op.create_table('product_media',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('alt', sa.String(length=300), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_product_media_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_media'))
    )
    op.create_index('ix_product_media_product_id', 'product_media', ['product_id', 'position'], unique=False)
    op.create_table('variants',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('options', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('gtin', sa.String(length=14), nullable=True),
    sa.Column('weight_grams', sa.Integer(), nullable=True),
    sa.Column('length_mm', sa.Integer(), nullable=True),
    sa.Column('width_mm', sa.Integer(), nullable=True),
    sa.Column('height_mm', sa.Integer(), nullable=True),
    sa.Column('tax_class', sa.String(length=20), nullable=False),
    sa.Column('track_inventory', sa.Boolean(), nullable=False),
    sa.Column('min_quantity', sa.Integer(), nullable=False),
    sa.Column('max_quantity', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_variants_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_variants')),
    sa.UniqueConstraint('sku', name=op.f('uq_variants_sku'))
    )
    op.create_index('ix_variants_product_id', 'variants', ['product_id', 'position'], unique=False)
    op.create_table('variant_prices',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('variant_id', sa.Uuid(), nullable=False),
    sa.Column('channel_id', sa.Uuid(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('compare_at_amount', sa.BigInteger(), nullable=True),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=True),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_variant_prices_amount_not_negative')),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_variant_prices_channel_id_channels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['variant_id'], ['variants.id'], name=op.f('fk_variant_prices_variant_id_variants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_variant_prices'))
    )
    op.create_index('ix_variant_prices_variant_channel', 'variant_prices', ['variant_id', 'channel_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_variant_prices_variant_channel', table_name='variant_prices')
    op.drop_table('variant_prices')
    op.drop_index('ix_variants_product_id', table_name='variants')
    op.drop_table('variants')
    op.drop_index('ix_product_media_product_id', table_name='product_media')
    op.drop_table('product_media')
    op.drop_index('ix_product_listings_rating', table_name='product_listings')
    op.drop_index('ix_product_listings_price', table_name='product_listings')
    op.drop_index('ix_product_listings_popularity', table_name='product_listings')
    op.drop_index('ix_product_listings_newest', table_name='product_listings')
    op.drop_index('ix_product_listings_name', table_name='product_listings')
    op.drop_index('ix_product_listings_category', table_name='product_listings', postgresql_ops={'category_path': 'text_pattern_ops'})
    op.drop_table('product_listings')
    op.drop_index('ix_products_category_id', table_name='products')
    op.drop_index('ix_products_brand_id', table_name='products')
    op.drop_table('products')
    op.drop_table('product_types')
    op.drop_index('ix_categories_path', table_name='categories', postgresql_ops={'path': 'text_pattern_ops'})
    op.drop_index('ix_categories_parent_id', table_name='categories')
    op.drop_table('categories')
    op.drop_table('brands')
