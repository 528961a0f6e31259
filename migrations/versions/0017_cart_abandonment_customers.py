"""Cart: the abandonment sweep also reads signed-in customers' carts that have no email of their own.

Such a cart's mail goes to the customer's account address (the checkout uses it, and the cart shows
it), so it is abandoned like a guest's cart with an email. The sweep's partial index follows its new
condition: `email IS NOT NULL OR customer_id IS NOT NULL`.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-27 18:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "status = 'active' AND abandoned_at IS NULL AND email IS NOT NULL"
_NEW = "status = 'active' AND abandoned_at IS NULL AND (email IS NOT NULL OR customer_id IS NOT NULL)"


def upgrade() -> None:
    op.drop_index('ix_carts_abandonment', table_name='carts', postgresql_where=sa.text(_OLD))
    op.create_index('ix_carts_abandonment', 'carts', ['updated_at'], unique=False, postgresql_where=sa.text(_NEW))


def downgrade() -> None:
    op.drop_index('ix_carts_abandonment', table_name='carts', postgresql_where=sa.text(_NEW))
    op.create_index('ix_carts_abandonment', 'carts', ['updated_at'], unique=False, postgresql_where=sa.text(_OLD))
