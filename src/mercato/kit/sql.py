"""Fixed SQL statements sent straight to the driver, inside the caller's transaction.

SQLAlchemy's execution layers (statement coercion, cache keys, result metadata, the greenlet hop)
cost more CPU than a small keyed statement costs PostgreSQL: on the cart and checkout paths they
were most of a request's time. A `Statement` is written with `:named` parameters like `text()`,
turned into the driver's `$n` form once, and run on

- an `AsyncSession`: on the asyncpg connection of its current transaction (so it sees and is part
  of what the session did — savepoints included), or
- a bare `asyncpg` connection (the storefront's fast paths, which run without a session).

Rows are asyncpg records that also read columns as attributes (`row.id`, as SQLAlchemy rows).
Parameters named in `json=` are serialised here: both kinds of connection take json/jsonb values
as JSON text and return them parsed (SQLAlchemy's codecs; `kit.db.RawPool` registers the same).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeAlias

import asyncpg
import orjson
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.db import RAW_STATEMENT_HOOKS


class DriverConnection(Protocol):
    """What a `Statement` uses of a bare asyncpg connection (asyncpg ships no type stubs)."""

    async def fetch(self, query: str, *args: Any, record_class: Any = ...) -> Any: ...

    async def execute(self, query: str, *args: Any) -> str: ...


Executor: TypeAlias = "AsyncSession | DriverConnection"  # a session, or an asyncpg connection
_NAME = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_DRIVER_KEY = "mercato.sql.driver"


class Row(asyncpg.Record):  # type: ignore[misc]  # asyncpg ships no type stubs
    """A record whose columns are also attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _dumps(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


class Statement:
    """One fixed statement. `json`: names of parameters to send as JSON (json/jsonb columns).
    Every `:name` is a parameter, inside a string literal too (`'a:b'` would not survive): text with
    a colon before a letter goes in as a parameter."""

    __slots__ = ("json", "names", "sql")

    def __init__(self, sql: str, *, json: Iterable[str] = ()) -> None:
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in names:
                names.append(name)
            return f"${names.index(name) + 1}"

        self.sql = _NAME.sub(number, sql)
        self.names = tuple(names)
        self.json = frozenset(json)
        unknown = self.json - set(self.names)
        if unknown:
            raise ValueError(f"json parameters not in the statement: {sorted(unknown)}")

    def _args(self, params: dict[str, Any]) -> list[Any]:
        missing = [name for name in self.names if name not in params]
        if missing:
            raise TypeError(f"missing statement parameters: {missing}")
        return [_dumps(params[name]) if name in self.json else params[name] for name in self.names]

    async def fetch(self, db: Executor, **params: Any) -> Sequence[Any]:
        driver = await driver_of(db)
        _report(self.sql)
        args = self._args(params)
        try:
            result: Sequence[Any] = await driver.fetch(self.sql, *args, record_class=Row)
        except _DRIVER_ERRORS as error:
            raise translated(error, self.sql, args) from error
        return result

    async def fetchrow(self, db: Executor, **params: Any) -> Any:
        rows = await self.fetch(db, **params)
        return rows[0] if rows else None

    async def fetchval(self, db: Executor, **params: Any) -> Any:
        rows = await self.fetch(db, **params)
        return rows[0][0] if rows else None


# What SQLAlchemy would have raised for a driver error, so callers and the app's error handlers
# (IntegrityError → a conflict, a refused value → 422, a lost connection → 503) treat a statement
# sent here as one sent through a session.
_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.exceptions._base.DataError)
_CONNECTIVITY_CLASSES = ("08", "53", "57P")


def translated(error: Exception, sql: str, args: Sequence[Any]) -> sa_exc.DBAPIError:
    sqlstate = getattr(error, "sqlstate", None) or ""
    kind: type[sa_exc.DBAPIError]
    if sqlstate.startswith("23"):
        kind = sa_exc.IntegrityError
    elif sqlstate.startswith("22") or isinstance(error, asyncpg.exceptions._base.DataError):
        kind = sa_exc.DataError
    elif sqlstate.startswith(_CONNECTIVITY_CLASSES) or isinstance(error, asyncpg.InterfaceError):
        kind = sa_exc.OperationalError
    else:
        kind = sa_exc.DBAPIError
    return kind(sql, tuple(args), error)


def _report(sql: str) -> None:
    for hook in RAW_STATEMENT_HOOKS:  # so the query-count tests see these statements too
        hook(sql)


async def driver_of(db: Executor) -> DriverConnection:
    """The asyncpg connection to send to: `db` itself, or the one under the session's current
    transaction — begun here if the session has none yet, and inside its innermost savepoint: the
    session emits BEGIN and SAVEPOINT lazily, when next asked for its connection, so it is asked
    whenever the innermost transaction is not the one the driver was last taken for."""
    if not isinstance(db, AsyncSession):
        return db
    sync = db.sync_session
    innermost = sync.get_nested_transaction() or sync.get_transaction()
    cached = db.info.get(_DRIVER_KEY)
    if innermost is not None and cached is not None and cached[0] is innermost:
        held: DriverConnection = cached[1]
        return held
    connection = await db.connection()
    adapted: Any = (await connection.get_raw_connection()).dbapi_connection
    # SQLAlchemy's asyncpg adapter sends BEGIN only before its own first statement: begin here, or
    # this statement would run (and release its locks) outside the session's transaction.
    if adapted._transaction is None and not adapted.autocommit:
        await adapted._start_transaction()
    driver: DriverConnection = adapted._connection
    db.info[_DRIVER_KEY] = (sync.get_nested_transaction() or sync.get_transaction(), driver)
    return driver


class Savepoint:
    """A savepoint set and ended by plain statements on the connection `Statement`s use: for a
    stretch of driver statements that may have to be undone. SQLAlchemy's nested transaction costs
    far more (its SAVEPOINT and RELEASE are compiled anew every time, plus its bookkeeping); but the
    ORM does not know of this one, so only driver statements belong inside it."""

    _numbers = itertools.count(1)
    __slots__ = ("_driver", "_name")

    def __init__(self, driver: DriverConnection, name: str) -> None:
        self._driver = driver
        self._name = name

    @classmethod
    async def set(cls, db: Executor) -> Savepoint:
        savepoint = cls(await driver_of(db), f"mercato_sp_{next(cls._numbers)}")
        await savepoint._send(f"SAVEPOINT {savepoint._name}")
        return savepoint

    async def rollback(self) -> None:
        """Undo what was done since the savepoint, and end it."""
        await self._send(f"ROLLBACK TO SAVEPOINT {self._name}; RELEASE SAVEPOINT {self._name}")

    async def release(self) -> None:
        """Keep what was done since the savepoint (it commits or rolls back with the transaction)."""
        await self._send(f"RELEASE SAVEPOINT {self._name}")

    async def _send(self, sql: str) -> None:
        _report(sql)
        try:
            await self._driver.execute(sql)
        except _DRIVER_ERRORS as error:
            raise translated(error, sql, ()) from error
