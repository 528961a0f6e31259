"""Catalogue admin: attributes, collections, revisions, reviews, import/export jobs, media details,
filterable attributes and collections on the listing read model, scheduled visibility on products.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 16:27:21.673891
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('attributes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=12), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=True),
    sa.Column('options', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'"), nullable=False),
    sa.Column('filterable', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("type IN ('text', 'rich_text', 'number', 'boolean', 'date', 'select', 'multiselect', 'swatch', 'reference')", name=op.f('ck_attributes_type')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attributes')),
    sa.UniqueConstraint('code', name=op.f('uq_attributes_code'))
    )
    op.create_table('catalog_jobs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=6), nullable=False),
    sa.Column('format', sa.String(length=5), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('may_publish', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('file_key', sa.String(length=300), nullable=True),
    sa.Column('counts', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('import', 'export')", name=op.f('ck_catalog_jobs_kind')),
    sa.CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')", name=op.f('ck_catalog_jobs_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_jobs'))
    )
    op.create_table('collections',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('slug', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('rules', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('is_published', sa.Boolean(), nullable=False),
    sa.Column('seo_title', sa.String(length=300), nullable=True),
    sa.Column('seo_description', sa.String(length=500), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('manual', 'rule')", name=op.f('ck_collections_kind')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_collections')),
    sa.UniqueConstraint('slug', name=op.f('uq_collections_slug'))
    )
    op.create_table('catalog_job_errors',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('job_id', sa.Uuid(), nullable=False),
    sa.Column('row', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=100), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['catalog_jobs.id'], name=op.f('fk_catalog_job_errors_job_id_catalog_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_job_errors'))
    )
    op.create_index(op.f('ix_catalog_job_errors_job_id'), 'catalog_job_errors', ['job_id'], unique=False)
    op.create_table('collection_products',
    sa.Column('collection_id', sa.Uuid(), nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['collection_id'], ['collections.id'], name=op.f('fk_collection_products_collection_id_collections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_collection_products_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('collection_id', 'product_id', name=op.f('pk_collection_products'))
    )
    op.create_index('ix_collection_products_product_id', 'collection_products', ['product_id'], unique=False)
    op.create_table('product_revisions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('snapshot', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('changes', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_product_revisions_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_revisions')),
    sa.UniqueConstraint('product_id', 'version', name='uq_product_revisions_product_id_version')
    )
    op.create_table('reviews',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=False),
    sa.Column('variant_id', sa.Uuid(), nullable=True),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('author_name', sa.String(length=100), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('verified_purchase', sa.Boolean(), nullable=False),
    sa.Column('moderation_comment', sa.Text(), nullable=True),
    sa.Column('moderated_by', sa.String(length=100), nullable=True),
    sa.Column('moderated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('helpful_count', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name=op.f('ck_reviews_status')),
    sa.CheckConstraint('rating BETWEEN 1 AND 5', name=op.f('ck_reviews_rating_range')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_reviews_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_reviews_product_id_products'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['variant_id'], ['variants.id'], name=op.f('fk_reviews_variant_id_variants'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reviews'))
    )
    op.create_index('ix_reviews_product_status', 'reviews', ['product_id', 'status', 'created_at'], unique=False)
    op.create_index('ix_reviews_status_created', 'reviews', ['status', 'created_at'], unique=False)
    op.create_index('uq_reviews_product_customer', 'reviews', ['product_id', 'customer_id'], unique=True)
    op.create_table('review_votes',
    sa.Column('review_id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('helpful', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_review_votes_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['review_id'], ['reviews.id'], name=op.f('fk_review_votes_review_id_reviews'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('review_id', 'customer_id', name=op.f('pk_review_votes'))
    )
    op.add_column('product_listings', sa.Column('attributes', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False))
    op.add_column('product_listings', sa.Column('collection_ids', postgresql.ARRAY(sa.Uuid()), server_default=sa.text("'{}'"), nullable=False))
    op.create_index('ix_product_listings_attributes', 'product_listings', ['attributes'], unique=False, postgresql_using='gin', postgresql_ops={'attributes': 'jsonb_path_ops'})
    op.create_index('ix_product_listings_collection_ids', 'product_listings', ['collection_ids'], unique=False, postgresql_using='gin')
    op.add_column('product_media', sa.Column('storage_key', sa.String(length=300), nullable=True))
    op.add_column('product_media', sa.Column('content_type', sa.String(length=50), nullable=True))
    op.add_column('product_media', sa.Column('width', sa.Integer(), nullable=True))
    op.add_column('product_media', sa.Column('height', sa.Integer(), nullable=True))
    op.add_column('product_media', sa.Column('size_bytes', sa.Integer(), nullable=True))
    op.add_column('product_media', sa.Column('sha256', sa.String(length=64), nullable=True))
    op.add_column('product_media', sa.Column('status', sa.String(length=10), server_default=sa.text("'ready'"), nullable=False))
    op.add_column('product_media', sa.Column('renditions', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'"), nullable=False))
    op.add_column('product_media', sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False))
    op.add_column('products', sa.Column('publish_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('products', sa.Column('unpublish_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('products', sa.Column('review_comment', sa.Text(), nullable=True))
    op.create_index('ix_products_publish_at', 'products', ['publish_at'], unique=False, postgresql_where=sa.text('publish_at IS NOT NULL'))
    op.create_index('ix_products_status_updated', 'products', ['status', 'updated_at'], unique=False)
    op.create_index('ix_products_unpublish_at', 'products', ['unpublish_at'], unique=False, postgresql_where=sa.text('unpublish_at IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_products_unpublish_at', table_name='products', postgresql_where=sa.text('unpublish_at IS NOT NULL'))
    op.drop_index('ix_products_status_updated', table_name='products')
    op.drop_index('ix_products_publish_at', table_name='products', postgresql_where=sa.text('publish_at IS NOT NULL'))
    op.drop_column('products', 'review_comment')
    op.drop_column('products', 'unpublish_at')
    op.drop_column('products', 'publish_at')
    op.drop_column('product_media', 'created_at')
    op.drop_column('product_media', 'renditions')
    op.drop_column('product_media', 'status')
    op.drop_column('product_media', 'sha256')
    op.drop_column('product_media', 'size_bytes')
    op.drop_column('product_media', 'height')
    op.drop_column('product_media', 'width')
    op.drop_column('product_media', 'content_type')
    op.drop_column('product_media', 'storage_key')
    op.drop_index('ix_product_listings_collection_ids', table_name='product_listings', postgresql_using='gin')
    op.drop_index('ix_product_listings_attributes', table_name='product_listings', postgresql_using='gin', postgresql_ops={'attributes': 'jsonb_path_ops'})
    op.drop_column('product_listings', 'collection_ids')
    op.drop_column('product_listings', 'attributes')
    op.drop_table('review_votes')
    op.drop_index('uq_reviews_product_customer', table_name='reviews')
    op.drop_index('ix_reviews_status_created', table_name='reviews')
    op.drop_index('ix_reviews_product_status', table_name='reviews')
    op.drop_table('reviews')
    op.drop_table('product_revisions')
    op.drop_index('ix_collection_products_product_id', table_name='collection_products')
    op.drop_table('collection_products')
    op.drop_index(op.f('ix_catalog_job_errors_job_id'), table_name='catalog_job_errors')
    op.drop_table('catalog_job_errors')
    op.drop_table('collections')
    op.drop_table('catalog_jobs')
    op.drop_table('attributes')
