"""Database plumbing: URL resolution (embedded or external), engine, sessions and the ORM base."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import structlog
from sqlalchemy import DateTime, MetaData, func
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mercato.kit.driver_pool import DriverPool
from mercato.kit.embedded_pg import EmbeddedPostgres
from mercato.kit.settings import Settings

_log = structlog.get_logger("mercato.db")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


AfterCommit = Callable[[], Awaitable[None]]


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once the request's transaction has committed (never if it rolls back), for
    side effects outside the database that must not run ahead of the data, such as cache writes."""
    session.info.setdefault("after_commit", []).append(callback)


def take_after_commit(session: AsyncSession) -> list[AfterCommit]:
    callbacks: list[AfterCommit] = session.info.pop("after_commit", [])
    return callbacks


async def run_after_commit(callbacks: list[AfterCommit]) -> None:
    """Run the callbacks of a committed transaction. The data is committed whatever they do, so a
    failing one is logged and the others still run."""
    for callback in callbacks:
        try:
            await callback()
        except Exception:
            _log.warning("after_commit_failed", callback=getattr(callback, "__qualname__", repr(callback)))


# Observers of statements sent straight to the driver (which SQLAlchemy's events do not see), so
# query-count checks cover them too.
RAW_STATEMENT_HOOKS: list[Callable[[str], None]] = []


class RawPool:
    """A small pool of plain driver connections for the hottest fixed statements, run without an
    ORM session: the uncached product page, and the cart's add-to-cart fast path (which begins its
    own transactions). SQLAlchemy's connection checkout and execution layers cost such a request
    more CPU than its queries. Opened on first use; autocommit unless a transaction is begun.

    Its connections plan statements generically (`plan_cache_mode = force_generic_plan`): every
    statement sent here is a keyed lookup whose best plan does not depend on the values, and
    PostgreSQL otherwise re-plans them on every execution (custom plans win its cost comparison),
    which cost several times the execution. json/jsonb travel as JSON text, as on SQLAlchemy's
    connections, so `kit.sql.Statement` works the same on both."""

    def __init__(self, url: str, settings: Settings, size: int) -> None:
        self._url = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._settings = settings
        self._size = size
        self._pool: DriverPool | None = None

    @property
    def size(self) -> int:
        return self._size

    def acquire(self) -> AbstractAsyncContextManager[Any]:
        """`async with raw_pool.acquire() as connection:` an asyncpg connection of the pool,
        given back afterwards (`kit.driver_pool`)."""
        if self._pool is None:
            self._pool = DriverPool(self._connect, self._size)
        return self._pool.acquire()

    async def _connect(self) -> Any:
        import asyncpg

        settings = self._settings
        connection = await asyncpg.connect(
            self._url, timeout=settings.db_connect_timeout_s,
            command_timeout=settings.db_statement_timeout_ms / 1000 + 5,
            server_settings={"application_name": "mercato", "timezone": "UTC",
                             "statement_timeout": str(settings.db_statement_timeout_ms),
                             "plan_cache_mode": "force_generic_plan"},
        )
        try:
            await _json_codecs(connection)
        except BaseException:
            connection.terminate()
            raise
        return connection

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()


async def _json_codecs(connection: Any) -> None:
    for name in ("json", "jsonb"):
        await connection.set_type_codec(name, schema="pg_catalog", encoder=str, decoder=orjson.loads,
                                        format="text")


def embedded_server(settings: Settings) -> EmbeddedPostgres:
    return EmbeddedPostgres(settings.pg_dir)


def resolve_database_url(settings: Settings, *, start_embedded: bool = True) -> str:
    """The plain `postgresql://` URL to use: DATABASE_URL, or the embedded server (started on demand)."""
    if settings.database_url is not None:
        return settings.database_url
    server = embedded_server(settings)
    if start_embedded:
        server.ensure_running()
        server.ensure_database(settings.db_name)
    return server.url(settings.db_name)


def async_url(url: str) -> str:
    """Turn any postgres URL into the SQLAlchemy asyncpg form."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    """The psycopg (sync) form, used by Alembic and the CLI."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def create_engine(url: str, settings: Settings, **overrides: Any) -> AsyncEngine:
    options: dict[str, Any] = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout_s,
        "pool_pre_ping": settings.db_pool_pre_ping,
        "pool_recycle": 1800,
        "json_deserializer": orjson.loads,  # json/jsonb columns: parsed by orjson, several times faster
        "connect_args": {
            "timeout": settings.db_connect_timeout_s,
            "command_timeout": settings.db_statement_timeout_ms / 1000 + 5,
            "server_settings": {
                "application_name": "mercato",
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "timezone": "UTC",
            },
        },
    }
    options.update(overrides)
    return create_async_engine(async_url(url), **options)


@dataclass
class Database:
    """The process's engine and session factories; tests swap them to isolate each test.

    `read_sessionmaker` serves safe (GET/HEAD) requests in autocommit mode: under READ COMMITTED
    every statement takes its own snapshot anyway, so a read-only request loses nothing and saves
    the BEGIN and COMMIT round trips. Handlers of safe methods must not write.
    """

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    read_sessionmaker: async_sessionmaker[AsyncSession] | None = None
    # Opens a bare autocommit connection, for hot reads that need no ORM session (set by connect();
    # without it, read_connection() takes the connection of a read session, as tests need).
    read_connect: Callable[[], AbstractAsyncContextManager[AsyncConnection]] | None = None
    raw_pool: RawPool | None = None

    def __post_init__(self) -> None:
        if self.read_sessionmaker is None:
            self.read_sessionmaker = self.sessionmaker

    @asynccontextmanager
    async def read_connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection for a read outside any request transaction (the storefront's fast paths)."""
        if self.read_connect is not None:
            async with self.read_connect() as connection:
                yield connection
            return
        async with (self.read_sessionmaker or self.sessionmaker)() as session:
            yield await session.connection()

    def own_connection(self) -> AbstractAsyncContextManager[Any]:
        """Where a fast path runs its statements outside any request session (`kit.sql`): a bare
        connection of the raw pool, in autocommit unless a transaction is begun on it, or — for a
        Database without one, as tests build it — a session (whose transaction the caller commits)."""
        if self.raw_pool is not None:
            return self.raw_pool.acquire()
        return self.sessionmaker()

    @classmethod
    def connect(cls, url: str, settings: Settings, **overrides: Any) -> Database:
        engine = create_engine(url, settings, **overrides)
        autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        return cls(
            engine,
            async_sessionmaker(engine, expire_on_commit=False, autoflush=False),
            async_sessionmaker(autocommit, expire_on_commit=False, autoflush=False),
            autocommit.connect,
            # Half the engine's: its statements are a few keyed ones per request, never a whole
            # transaction's worth, and every process's two pools count against max_connections.
            RawPool(url, settings, size=max(2, settings.db_pool_size // 2)),
        )

    async def dispose(self) -> None:
        if self.raw_pool is not None:
            await self.raw_pool.close()
        await self.engine.dispose()
