"""Pricing: tax-exempt customer groups.

A customer in a group with `tax_exempt` pays no tax (B2B buyers with a VAT id). Existing groups stay
taxed (server default false, so the column is filled without rewriting the rows' meaning).

First-order promotions ask whether a customer has any order; `ix_orders_customer` (0012, on
customer_id where it is set) already answers that, so no index is added here.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('customer_groups',
                  sa.Column('tax_exempt', sa.Boolean(), server_default=sa.text('false'), nullable=False))


def downgrade() -> None:
    op.drop_column('customer_groups', 'tax_exempt')
