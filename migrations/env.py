"""Alembic environment: every module's models register on one metadata."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from mercato.kit.db import Base
from mercato.registry import import_all_models

import_all_models()
target_metadata = Base.metadata
config = context.config


def run_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with connectable.connect() as connection:
        # Several processes may start at once (API workers, worker, CLI): one migrates, others wait.
        connection.exec_driver_sql("SELECT pg_advisory_lock(72616)")
        try:
            context.configure(connection=connection, target_metadata=target_metadata, compare_type=True,
                              transaction_per_migration=True)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            connection.exec_driver_sql("SELECT pg_advisory_unlock(72616)")
            connection.commit()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
