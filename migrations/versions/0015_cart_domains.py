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

# Created without their checks, so that changing the columns' types needs no rewrite of the tables
# (a domain with a check would make PostgreSQL rewrite them under an exclusive lock); the checks
# are added afterwards, which only reads the rows (ALTER DOMAIN ... ADD CONSTRAINT).
_DOMAINS = (
    ('cart_status', sa.String(10), "VALUE IN ('active', 'completed')"),
    ('cart_line_quantity', sa.Integer(), 'VALUE BETWEEN 1 AND 1000'),
    ('cart_line_unit_price', sa.BigInteger(), 'VALUE >= 0'),
)
_COLUMNS = (('carts', 'status', 0), ('cart_lines', 'quantity', 1), ('cart_lines', 'unit_price', 2))
_CHECKS = (('carts', 'ck_carts_status', "status IN ('active', 'completed')"),
           ('cart_lines', 'ck_cart_lines_quantity', 'quantity BETWEEN 1 AND 1000'),
           ('cart_lines', 'ck_cart_lines_unit_price_not_negative', 'unit_price >= 0'))


def upgrade() -> None:
    bind = op.get_bind()
    for name, base, _ in _DOMAINS:
        postgresql.DOMAIN(name, base).create(bind)
    for table, check, _ in _CHECKS:
        op.drop_constraint(op.f(check), table, type_='check')
    for table, column, at in _COLUMNS:
        name, base, _ = _DOMAINS[at]
        op.alter_column(table, column, type_=postgresql.DOMAIN(name, base), existing_type=base,
                        existing_nullable=False)
    for name, _, rule in _DOMAINS:
        op.execute(f'ALTER DOMAIN {name} ADD CONSTRAINT {name}_check CHECK ({rule})')


def downgrade() -> None:
    for table, column, at in _COLUMNS:
        name, base, _ = _DOMAINS[at]
        op.alter_column(table, column, type_=base, existing_type=postgresql.DOMAIN(name, base),
                        existing_nullable=False)
    for table, check, rule in _CHECKS:
        op.create_check_constraint(op.f(check), table, rule)
    bind = op.get_bind()
    for name, base, _ in reversed(_DOMAINS):
        postgresql.DOMAIN(name, base).drop(bind)
