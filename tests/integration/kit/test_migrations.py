"""The one migration history: complete (models match), reversible, and creating what it needs."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from mercato.kit.db import Base, sync_url
from mercato.kit.migrations import current_revision, downgrade, head_revision, upgrade
from mercato.registry import import_all_models
from tests.fixtures.databases import TestDatabases


def test_models_and_migrations_agree(fresh_database: Callable[[], str]) -> None:
    import_all_models()
    engine = create_engine(sync_url(fresh_database()))
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models changed without a migration (run `mercato makemigration`): {diff}"


def test_downgrade_to_base_and_back(fresh_database: Callable[[], str]) -> None:
    url = fresh_database()
    downgrade(url, "base")
    assert current_revision(url) is None
    upgrade(url)
    assert current_revision(url) == head_revision()


def test_migrate_creates_a_missing_database(databases: TestDatabases) -> None:
    name = f"m_{uuid.uuid4().hex[:10]}"
    url = databases.url_for(name)
    env = {**os.environ, "DATABASE_URL": url}
    try:
        result = subprocess.run([sys.executable, "-m", "mercato", "migrate"], env=env, capture_output=True,
                                text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        assert current_revision(url) == head_revision()
    finally:
        databases.drop(name)
