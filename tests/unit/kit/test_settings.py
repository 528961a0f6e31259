"""Configuration: a bad value stops start-up with a message naming the variable; the signing secret."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mercato.kit.secrets import signing_secret
from mercato.kit.settings import PROJECT_ROOT, ConfigurationError, Settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts from an environment without any Mercato configuration."""
    for name in list(os.environ):
        if name.startswith("MERCATO_") or name in ("DATABASE_URL", "REDIS_URL"):
            monkeypatch.delenv(name)


def test_defaults_load(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.port == 8000
    assert settings.database_url is None
    assert settings.uses_embedded_db
    assert settings.cors_origins == []


def test_bad_values_name_every_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MERCATO_PORT", "abc")
    monkeypatch.setenv("DATABASE_URL", "mysql://x")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    message = str(info.value)
    assert "MERCATO_PORT" in message
    assert "DATABASE_URL" in message
    assert "postgresql" in message  # says what is expected
    assert "validation error" not in message.lower()  # not pydantic's raw dump
    assert info.value.__cause__ is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MERCATO_PORT", "70000"),
        ("MERCATO_ENV", "staging"),
        ("MERCATO_DB_POOL_SIZE", "0"),
        ("MERCATO_LOG_LEVEL", "LOUD"),
        ("MERCATO_ACCESS_LOG", "perhaps"),
        ("DATABASE_URL", "sqlite:///x.db"),
    ],
)
def test_each_bad_value_is_named(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=name):
        load_settings()


def test_good_values_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MERCATO_PORT", "9001")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/shop")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    monkeypatch.setenv("MERCATO_ENV", "production")
    settings = load_settings()
    assert settings.port == 9001
    assert settings.database_url == "postgresql://u:p@db:5432/shop"
    assert settings.redis_url == "redis://127.0.0.1:6379/3"
    assert settings.env == "production"
    assert not settings.uses_embedded_db


def test_blank_urls_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "  ")
    monkeypatch.setenv("REDIS_URL", "")
    settings = load_settings()
    assert settings.database_url is None
    assert settings.redis_url is None


def test_cors_origins_is_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MERCATO_CORS_ORIGINS", " https://shop.example , https://admin.example,,")
    assert load_settings().cors_origins == ["https://shop.example", "https://admin.example"]


def test_single_cors_origin_and_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MERCATO_CORS_ORIGINS", "https://shop.example")
    assert load_settings().cors_origins == ["https://shop.example"]
    monkeypatch.setenv("MERCATO_CORS_ORIGINS", "")
    assert load_settings().cors_origins == []


def test_worker_handler_modules_is_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MERCATO_WORKER_HANDLER_MODULES", "a.handlers,b.handlers")
    assert load_settings().worker_handler_modules == ["a.handlers", "b.handlers"]


# ---- signing secret -----------------------------------------------------------------------------


def test_production_without_secret_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    with pytest.raises(ConfigurationError, match="MERCATO_SECRET_KEY"):
        signing_secret(Settings(env="production"), path)
    assert not path.exists()  # no silent fallback to a file secret in production


def test_short_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="MERCATO_SECRET_KEY"):
        signing_secret(Settings(env="production", secret_key="short"), tmp_path / "secret_key")


def test_configured_secret_wins(tmp_path: Path) -> None:
    secret = "s" * 40
    path = tmp_path / "secret_key"
    assert signing_secret(Settings(env="production", secret_key=secret), path) == secret
    assert signing_secret(Settings(env="development", secret_key=secret), path) == secret
    assert not path.exists()


def test_dev_secret_is_persisted_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "secret_key"
    settings = Settings(env="development")
    first = signing_secret(settings, path)
    assert len(first) >= 32
    assert path.read_text().strip() == first
    assert path.stat().st_mode & 0o777 == 0o600
    assert signing_secret(settings, path) == first
    assert signing_secret(Settings(env="test"), path) == first
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no temp files left behind
    other = signing_secret(settings, tmp_path / "elsewhere")
    assert other != first


def test_dev_secret_under_concurrency_is_one_complete_secret(tmp_path: Path) -> None:
    settings = Settings(env="development")
    for attempt in range(20):
        paths = [tmp_path / f"secret_{attempt}"] * 8
        with ThreadPoolExecutor(max_workers=8) as pool:
            secrets = list(pool.map(lambda path: signing_secret(settings, path), paths))
        assert len(set(secrets)) == 1
        assert len(secrets[0]) >= 32


def test_unusable_dev_secret_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    path.write_text("\n")
    with pytest.raises(ConfigurationError, match="MERCATO_SECRET_KEY"):
        signing_secret(Settings(env="development"), path)


# ---- the real command ---------------------------------------------------------------------------


def test_serve_with_a_bad_port_exits_with_a_readable_message() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MERCATO_") and k != "DATABASE_URL"}
    env.update(MERCATO_PORT="abc", MERCATO_PG_DIR="/nonexistent/never-started", COLUMNS="200")
    proc = subprocess.run(
        [sys.executable, "-m", "mercato", "serve"], env=env, capture_output=True, text=True, timeout=60,
        cwd=PROJECT_ROOT,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "MERCATO_PORT" in output
    assert "integer" in output
    assert "Traceback" not in output
