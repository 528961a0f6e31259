"""TOTP replay protection (last accepted step) and no TRUNCATE of the append-only audit log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 14:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("mfa_last_step", sa.BigInteger(), nullable=True))
    op.add_column("staff_users", sa.Column("mfa_last_step", sa.BigInteger(), nullable=True))
    # Row triggers do not fire on TRUNCATE; this statement trigger closes that way around them.
    op.execute("""
        CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION mercato_audit_append_only();
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
    op.drop_column("staff_users", "mfa_last_step")
    op.drop_column("customers", "mfa_last_step")
