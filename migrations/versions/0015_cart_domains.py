"""Cart: the single-column rules of carts and cart lines as domains instead of CHECK constraints.

PostgreSQL reads a table's CHECK constraints back from their stored text on every statement that
writes one of its rows; a domain's check is read once per connection and runs only when the
column is assigned. Every add-to-cart writes a cart and a line (decision 0016). The rules are the
same: status one of active/completed, quantity 1 to 1000, unit price not negative.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUS = postgresql.DOMAIN('cart_status', sa.String(10), check="VALUE IN ('active', 'completed')")
_QUANTITY = postgresql.DOMAIN('cart_line_quantity', sa.Integer(), check='VALUE BETWEEN 1 AND 1000')
_UNIT_PRICE = postgresql.DOMAIN('cart_line_unit_price', sa.BigInteger(), check='VALUE >= 0')


def upgrade() -> None:
    bind = op.get_bind()
    for domain in (_STATUS, _QUANTITY, _UNIT_PRICE):
        domain.create(bind)
    op.drop_constraint(op.f('ck_carts_status'), 'carts', type_='check')
    op.drop_constraint(op.f('ck_cart_lines_quantity'), 'cart_lines', type_='check')
    op.drop_constraint(op.f('ck_cart_lines_unit_price_not_negative'), 'cart_lines', type_='check')
    # Same base types: PostgreSQL checks the rows against the domains without rewriting the tables.
    op.alter_column('carts', 'status', type_=_STATUS, existing_type=sa.String(10), existing_nullable=False)
    op.alter_column('cart_lines', 'quantity', type_=_QUANTITY, existing_type=sa.Integer(), existing_nullable=False)
    op.alter_column('cart_lines', 'unit_price', type_=_UNIT_PRICE, existing_type=sa.BigInteger(),
                    existing_nullable=False)


def downgrade() -> None:
    op.alter_column('cart_lines', 'unit_price', type_=sa.BigInteger(), existing_type=_UNIT_PRICE,
                    existing_nullable=False)
    op.alter_column('cart_lines', 'quantity', type_=sa.Integer(), existing_type=_QUANTITY, existing_nullable=False)
    op.alter_column('carts', 'status', type_=sa.String(10), existing_type=_STATUS, existing_nullable=False)
    op.create_check_constraint(op.f('ck_cart_lines_unit_price_not_negative'), 'cart_lines', 'unit_price >= 0')
    op.create_check_constraint(op.f('ck_cart_lines_quantity'), 'cart_lines', 'quantity BETWEEN 1 AND 1000')
    op.create_check_constraint(op.f('ck_carts_status'), 'carts', "status IN ('active', 'completed')")
    bind = op.get_bind()
    for domain in (_UNIT_PRICE, _QUANTITY, _STATUS):
        domain.drop(bind)
