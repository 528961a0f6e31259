"""Test harness: one migrated database per session, each test inside a rolled-back transaction.

The database is the embedded PostgreSQL by default, or the server named by TEST_DATABASE_URL
or else DATABASE_URL: the test databases are created (and dropped) beside the named one.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from mercato.app import create_app
from mercato.kit.db import RAW_STATEMENT_HOOKS, Database
from mercato.kit.settings import Settings
from tests.fixtures.test_session import install_test_session

if TYPE_CHECKING:
    from tests.fixtures.databases import TestDatabases

pytest_plugins = ["tests.fixtures.databases", "tests.fixtures.processes", "tests.fixtures.auth", "tests.fixtures.live"]


@pytest.fixture(scope="session")
def database_url(databases: TestDatabases) -> str:
    url = databases.create(f"t_{uuid.uuid4().hex[:10]}")
    install_test_session(url)
    return url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        env="test", database_url=database_url, access_log=False, cache_bus=False,
        secret_key="test-secret-key-that-is-long-enough-0123456789",
    )


@pytest.fixture(scope="session")
async def engine_db(settings: Settings, database_url: str) -> AsyncIterator[Database]:
    db = Database.connect(database_url, settings, pool_size=2, max_overflow=2)
    yield db
    await db.dispose()


@pytest.fixture
async def connection(engine_db: Database) -> AsyncIterator[AsyncConnection]:
    """A connection inside an outer transaction that is rolled back after the test."""
    async with engine_db.engine.connect() as conn:
        outer = await conn.begin()
        try:
            yield conn
        finally:
            if outer.is_active:
                await outer.rollback()


@pytest.fixture
def sessionmaker(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    # Commits inside the code under test only release savepoints of the outer transaction.
    return async_sessionmaker(
        bind=connection, expire_on_commit=False, autoflush=False, join_transaction_mode="create_savepoint"
    )


@pytest.fixture
async def session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as s:
        yield s


@pytest.fixture
def app(settings: Settings, engine_db: Database, sessionmaker: async_sessionmaker[AsyncSession]) -> FastAPI:
    return create_app(settings, database=Database(engine_db.engine, sessionmaker))


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


class QueryCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn: object, cursor: object, statement: str, *args: object) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO")):
            self.statements.append(statement)


@pytest.fixture
def assert_max_queries(engine_db: Database) -> Callable[[int], object]:
    """`with assert_max_queries(n): ...` fails when the block runs more than n SQL statements."""

    @contextmanager
    def check(limit: int) -> Iterator[QueryCounter]:
        counter = QueryCounter()
        sync_engine = engine_db.engine.sync_engine
        event.listen(sync_engine, "before_cursor_execute", counter)
        raw = counter.statements.append
        RAW_STATEMENT_HOOKS.append(raw)
        try:
            yield counter
        finally:
            event.remove(sync_engine, "before_cursor_execute", counter)
            RAW_STATEMENT_HOOKS.remove(raw)
        executed = len(counter.statements)
        assert executed <= limit, f"{executed} queries (limit {limit}):\n" + "\n".join(counter.statements)

    return check
