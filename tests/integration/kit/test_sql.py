"""`kit.sql.Savepoint`: a savepoint on the connection `Statement`s use inside a session's
transaction — rolled back, what followed it is gone and the transaction goes on; released, it is
kept and commits or rolls back with the transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.sql import Savepoint, Statement

_INSERT = Statement("INSERT INTO savepoint_probe (x) VALUES (:x)")
_ROWS = Statement("SELECT coalesce(array_agg(x ORDER BY x), '{}') FROM savepoint_probe")


async def _rows(session: AsyncSession) -> list[int]:
    return list(await _ROWS.fetchval(session))


async def test_rolled_back_and_released_savepoints(session: AsyncSession) -> None:
    await session.execute(text("CREATE TEMP TABLE savepoint_probe (x int PRIMARY KEY) ON COMMIT DROP"))
    await _INSERT.fetch(session, x=1)
    undone = await Savepoint.set(session)
    await _INSERT.fetch(session, x=2)
    await undone.rollback()
    kept = await Savepoint.set(session)
    await _INSERT.fetch(session, x=3)
    await kept.release()
    assert await _rows(session) == [1, 3]
    # A statement that failed inside a savepoint leaves the transaction usable once rolled back to it.
    failing = await Savepoint.set(session)
    with pytest.raises(exc.IntegrityError):
        await _INSERT.fetch(session, x=3)
    await failing.rollback()
    assert await _rows(session) == [1, 3]
    # Released, its work belongs to what encloses it: undone with it.
    enclosing = await session.begin_nested()
    inner = await Savepoint.set(session)
    await _INSERT.fetch(session, x=5)
    await inner.release()
    assert await _rows(session) == [1, 3, 5]
    await enclosing.rollback()
    assert await _rows(session) == [1, 3]
    await session.rollback()
