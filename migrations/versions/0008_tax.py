"""Tax: classes, zones and rates (pricing module); the five usual classes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 20:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every store has these: variants and shipping default to `standard`; `zero` and `exempt` are
# fixed at 0 by the tax rules. Rates per country come from the admin API (or the demo seed).
CLASSES = [
    ("standard", "Standard rate", "Most goods and services; the default of variants and shipping."),
    ("reduced", "Reduced rate", "Goods a country taxes at its reduced rate (food, books, ...)."),
    ("super_reduced", "Super-reduced rate", "Goods a country taxes below its reduced rate, where it has one."),
    ("zero", "Zero rate", "Zero-rated goods: always 0 %."),
    ("exempt", "Exempt", "Goods exempt from tax: always 0 %."),
]


def upgrade() -> None:
    tax_classes = op.create_table('tax_classes',
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_tax_classes'))
    )
    op.create_table('tax_zones',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('region', sa.String(length=3), nullable=True),
    sa.Column('postcode_prefix', sa.String(length=10), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tax_zones')),
    sa.UniqueConstraint('code', name=op.f('uq_tax_zones_code'))
    )
    op.create_index('uq_tax_zones_area', 'tax_zones', ['country', 'region', 'postcode_prefix'], unique=True,
                    postgresql_nulls_not_distinct=True)
    op.create_table('tax_zone_rates',
    sa.Column('zone_id', sa.Uuid(), nullable=False),
    sa.Column('tax_class', sa.String(length=20), nullable=False),
    sa.Column('rate_ppm', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.CheckConstraint('rate_ppm BETWEEN 0 AND 1000000', name=op.f('ck_tax_zone_rates_rate_ppm')),
    sa.ForeignKeyConstraint(['tax_class'], ['tax_classes.code'], name=op.f('fk_tax_zone_rates_tax_class_tax_classes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['zone_id'], ['tax_zones.id'], name=op.f('fk_tax_zone_rates_zone_id_tax_zones'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('zone_id', 'tax_class', name=op.f('pk_tax_zone_rates'))
    )
    op.create_index('ix_tax_zone_rates_tax_class', 'tax_zone_rates', ['tax_class'], unique=False)
    op.bulk_insert(tax_classes, [
        {"code": code, "name": name, "description": description, "version": 1} for code, name, description in CLASSES
    ])


def downgrade() -> None:
    op.drop_index('ix_tax_zone_rates_tax_class', table_name='tax_zone_rates')
    op.drop_table('tax_zone_rates')
    op.drop_index('uq_tax_zones_area', table_name='tax_zones', postgresql_nulls_not_distinct=True)
    op.drop_table('tax_zones')
    op.drop_table('tax_classes')
