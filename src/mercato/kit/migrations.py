"""Alembic, driven from code: one history in `migrations/` at the project root."""

from __future__ import annotations

from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from psycopg import sql as psql
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from mercato.kit.db import sync_url
from mercato.kit.settings import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    return config


def head_revision() -> str | None:
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    return script.get_current_head()


def known_revisions() -> frozenset[str]:
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    return frozenset(rev.revision for rev in script.walk_revisions())


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def make_migration(url: str, message: str) -> Path | None:
    scripts = command.revision(alembic_config(url), message=message, autogenerate=True)
    script = scripts[0] if isinstance(scripts, list) else scripts
    return Path(script.path) if script is not None else None


def ensure_database_exists(url: str) -> bool:
    """Create the database named in `url` when the server lacks it; True when it was created."""
    target = make_url(url)
    plain = target.set(drivername="postgresql")
    try:
        psycopg.connect(plain.render_as_string(hide_password=False), connect_timeout=10).close()
        return False
    except psycopg.OperationalError as exc:
        if f'database "{target.database}" does not exist' not in str(exc):
            raise
    maintenance = plain.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=10) as conn:
        try:
            conn.execute(psql.SQL("CREATE DATABASE {}").format(psql.Identifier(str(target.database))))
        except psycopg.errors.DuplicateDatabase:
            return False  # another process created it first
    return True


def current_revision(url: str) -> str | None:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            exists = conn.execute(text("SELECT to_regclass('alembic_version')")).scalar()
            if exists is None:
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
