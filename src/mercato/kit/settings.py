"""Configuration from environment variables, validated once at start-up.

A wrong value stops the process with a message naming the variable (see `load_settings`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[3]


class ConfigurationError(RuntimeError):
    """Raised when the environment holds an invalid configuration value."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MERCATO_", extra="ignore", frozen=True, populate_by_name=True)

    env: Literal["development", "test", "production"] = "development"

    # Database. DATABASE_URL (no prefix) is the conventional name; unset means "embedded".
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    pg_dir: Path = PROJECT_ROOT / "var" / "pg"
    db_name: str = "mercato"
    # A steady pool and no overflow by default: overflow connections are opened and closed again
    # under every burst (a new server backend, and every statement prepared anew), which cost more
    # than a request briefly waiting for one of the pool's connections.
    db_pool_size: int = Field(default=20, ge=1, le=500)
    db_max_overflow: int = Field(default=0, ge=0, le=500)
    # A ping per checkout hides a database restart from clients, at one extra round trip per
    # request. Off by default: after a restart one request per process gets a 503 and the pool
    # then replaces every connection.
    db_pool_pre_ping: bool = False
    db_pool_timeout_s: float = Field(default=5.0, gt=0, le=120)
    db_connect_timeout_s: float = Field(default=3.0, gt=0, le=60)
    db_statement_timeout_ms: int = Field(default=30_000, ge=100)

    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    # Without Redis, each process caches in memory and tells the others about invalidations through
    # PostgreSQL notifications; off only for a lone process (tests build many apps in one process).
    cache_bus: bool = True

    # HTTP
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    web_workers: int = Field(default=1, ge=1, le=256)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Addresses of the load balancers whose X-Forwarded-For/-Proto headers are trusted ("*" = any).
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(default_factory=list)
    access_log: bool = True
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Security
    secret_key: str | None = None
    # Earlier signing secrets, still accepted for verification while their tokens expire (rotation).
    previous_secret_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    access_token_ttl_s: int = Field(default=900, ge=60, le=86_400)
    customer_session_idle_s: int = Field(default=30 * 86_400, ge=300)
    customer_session_absolute_s: int = Field(default=90 * 86_400, ge=300)
    staff_session_idle_s: int = Field(default=12 * 3600, ge=300)
    staff_session_absolute_s: int = Field(default=7 * 86_400, ge=300)
    session_cache_ttl_s: int = Field(default=10, ge=0, le=300)
    staff_require_mfa: bool = False
    email_verification_ttl_s: int = Field(default=86_400, ge=60)
    password_reset_ttl_s: int = Field(default=3600, ge=60)
    # Per account: free failures, then growing delays, then a temporary lock (never permanent).
    login_free_failures: int = Field(default=3, ge=1)
    login_lock_after: int = Field(default=10, ge=2)
    login_lock_s: int = Field(default=900, ge=1)
    login_max_delay_s: int = Field(default=60, ge=1)
    rate_limit_login: str = "20/minute"
    rate_limit_register: str = "10/minute"
    rate_limit_password_reset: str = "5/minute"  # noqa: S105 - a rate, not a secret
    # Coupon codes that did not work, per client (guessing protection; see promotions.guard_coupon).
    rate_limit_coupon: str = "10/minute"

    # Events and jobs
    outbox_max_attempts: int = Field(default=10, ge=1, le=100)
    outbox_batch_size: int = Field(default=50, ge=1, le=1000)
    outbox_backoff_base_s: float = Field(default=1.0, gt=0)
    outbox_backoff_max_s: float = Field(default=3600.0, gt=0)
    worker_poll_interval_s: float = Field(default=0.5, gt=0, le=60)
    worker_handler_modules: Annotated[list[str], NoDecode] = Field(default_factory=list)
    outbox_retention_days: int = Field(default=7, ge=1)

    idempotency_ttl_s: int = Field(default=86_400, ge=60)
    idempotency_lock_timeout_s: int = Field(default=60, ge=1)

    # Storefront: the channel `/store/...` reads use when a request names none (`?channel=`).
    default_channel: str = Field(default="web-eu", min_length=1, max_length=50)

    # Where tax rates come from: "table" reads the zones of /admin/tax (pricing.provider_named).
    tax_provider: Literal["table"] = "table"
    # Payment gateways checkout may use, by name (comma-separated in the environment). `test` is the
    # built-in one whose tokens API.md lists; leave it out in production.
    payment_gateways: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["test"])

    # File storage (media, import/export files): "local" keeps them under media_dir; "s3" uses any
    # S3-compatible service (s3_* settings). media_url_prefix is where their public URLs start.
    storage_backend: Literal["local", "s3"] = "local"
    media_dir: Path = PROJECT_ROOT / "var" / "media"
    media_url_prefix: str = Field(default="/media", min_length=1)
    s3_bucket: str | None = Field(default=None, validate_default=True)
    s3_endpoint_url: str | None = None  # unset: AWS itself; set for MinIO, R2, Ceph and the like
    s3_region: str | None = None
    s3_access_key_id: str | None = None  # unset with the secret: boto3's own credential chain
    s3_secret_access_key: SecretStr | None = None
    # Where clients fetch stored files from (a CDN or the bucket's website); unset: the bucket URL.
    s3_public_url: str | None = None
    # Product image uploads: bytes are counted while the upload streams in; pixels are read from
    # the image header before anything is decoded (a decompression bomb never gets decoded).
    media_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    media_max_pixels: int = Field(default=40_000_000, ge=1)
    # Catalogue import files (POST /admin/imports) stream into storage; larger ones are refused (413).
    max_import_bytes: int = Field(default=1024 * 1024 * 1024, ge=1024)

    @field_validator("cors_origins", "forwarded_allow_ips", "worker_handler_modules", "previous_secret_keys",
                     "payment_gateways", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("rate_limit_login", "rate_limit_register", "rate_limit_password_reset", "rate_limit_coupon")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError("must be a rate such as '20/minute' or '100 per hour'") from None
        return value

    @field_validator("s3_bucket")
    @classmethod
    def _bucket_for_s3(cls, value: str | None, info: ValidationInfo) -> str | None:
        value = value.strip() if value else None
        if value is None and info.data.get("storage_backend") == "s3":
            raise ValueError("must be set when MERCATO_STORAGE_BACKEND=s3")
        return value

    @field_validator("s3_endpoint_url", "s3_region", "s3_access_key_id", "s3_public_url", mode="before")
    @classmethod
    def _blank_s3_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("database_url", "redis_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @property
    def uses_embedded_db(self) -> bool:
        return self.database_url is None


def _variable_name(loc: tuple[int | str, ...]) -> str:
    field = str(loc[0]) if loc else "?"
    aliases = {"database_url": "DATABASE_URL", "redis_url": "REDIS_URL"}
    return aliases.get(field, field if field.isupper() else f"MERCATO_{field.upper()}")


def load_settings() -> Settings:
    """Read and validate the environment, turning pydantic's error into one readable message."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = [f"{_variable_name(err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise ConfigurationError("Invalid configuration:\n  " + "\n  ".join(lines)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
