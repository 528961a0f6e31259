"""`kit.driver_pool.DriverPool` against the real server: never more connections than its size, the
last one given back is the next one taken, callers who wait are served in turn (one who gives up
waiting loses nothing for the others), a transaction left open is rolled back, and a connection
whose user failed mid-exchange, or that the server closed, is replaced by a new one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from mercato.kit.driver_pool import DriverPool


@pytest.fixture
def connect(database_url: str) -> Any:
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    opened: list[Any] = []

    async def open_one() -> Any:
        connection = await asyncpg.connect(dsn, server_settings={"application_name": "driver-pool-test"})
        opened.append(connection)
        return connection

    open_one.opened = opened  # type: ignore[attr-defined]
    return open_one


@pytest.fixture
async def pools() -> AsyncIterator[list[DriverPool]]:
    """Pools a test makes (append them): closed after it, whatever happened."""
    made: list[DriverPool] = []
    yield made
    for pool in made:
        await pool.close()


def _pool(pools: list[DriverPool], connect: Any, size: int) -> DriverPool:
    pool = DriverPool(connect, size)
    pools.append(pool)
    return pool


async def _backend(connection: Any) -> int:
    return int(await connection.fetchval("SELECT pg_backend_pid()"))


async def _next_backend(pool: DriverPool) -> int:
    """The server process of the connection the pool hands out next (given back at once)."""
    async with pool.acquire() as connection:
        return await _backend(connection)


async def test_at_most_size_connections_however_many_callers(connect: Any) -> None:
    pool = DriverPool(connect, 3)
    busy = 0
    most = 0

    async def use(n: int) -> int:
        nonlocal busy, most
        async with pool.acquire() as connection:
            busy += 1
            most = max(most, busy)
            value = int(await connection.fetchval("SELECT $1::int FROM pg_sleep(0.01)", n))
            busy -= 1
            return value

    try:
        assert await asyncio.gather(*(use(n) for n in range(40))) == list(range(40))
        assert most == 3
        assert len(connect.opened) == 3
        assert pool.opened == 3
    finally:
        await pool.close()
    assert all(c.is_closed() for c in connect.opened)


async def test_the_last_given_back_is_taken_next_and_waiters_are_served_in_turn(
    connect: Any, pools: list[DriverPool],
) -> None:
    pool = _pool(pools, connect, 1)
    pid = await _next_backend(pool)
    assert await _next_backend(pool) == pid
    order: list[int] = []
    release = asyncio.Event()

    async def holder() -> None:
        async with pool.acquire():
            await release.wait()

    async def waiter(n: int) -> None:
        async with pool.acquire() as connection:
            order.append(n)
            await connection.fetchval("SELECT 1")

    held = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiters = []
    for n in range(5):
        waiters.append(asyncio.create_task(waiter(n)))
        await asyncio.sleep(0)
    release.set()
    await asyncio.gather(held, *waiters)
    assert order == [0, 1, 2, 3, 4]
    assert len(connect.opened) == 1


@pytest.mark.parametrize("when", ["before_handed_one", "just_handed_one"])
async def test_a_caller_who_stops_waiting_takes_nothing_from_the_others(
    connect: Any, pools: list[DriverPool], when: str,
) -> None:
    pool = _pool(pools, connect, 1)
    lease = pool.acquire()
    await lease.__aenter__()
    impatient = asyncio.create_task(pool.acquire().__aenter__())
    patient = asyncio.create_task(pool.acquire().__aenter__())
    await asyncio.sleep(0)  # both wait, the impatient one first
    if when == "before_handed_one":
        impatient.cancel()
        await lease.__aexit__(None, None, None)
    else:  # the connection is handed to it, and it gives up before it could run again
        await lease.__aexit__(None, None, None)
        impatient.cancel()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    connection = await asyncio.wait_for(patient, 5)
    assert await connection.fetchval("SELECT 1") == 1
    assert pool.opened == 1
    assert len(connect.opened) == 1


async def test_an_open_transaction_is_rolled_back_when_given_back(connect: Any, pools: list[DriverPool]) -> None:
    pool = _pool(pools, connect, 1)
    async with pool.acquire() as connection:
        await connection.execute("CREATE TEMP TABLE pool_probe (x int)")
    async with pool.acquire() as connection:
        await connection.execute("BEGIN")
        await connection.execute("INSERT INTO pool_probe VALUES (1)")
    async with pool.acquire() as connection:
        assert not connection.is_in_transaction()
        assert await connection.fetchval("SELECT count(*) FROM pool_probe") == 0
    # An error of the caller's own (not the connection's) keeps the connection.
    pid = await _fail_after_use(pool, LookupError("not found"))
    assert await _next_backend(pool) == pid
    # So does an error the server reported: the exchange ended with it.
    with pytest.raises(asyncpg.UniqueViolationError):
        await _duplicate_key(pool)
    assert await _next_backend(pool) == pid


async def test_a_connection_left_mid_exchange_or_closed_by_the_server_is_replaced(
    connect: Any, pools: list[DriverPool],
) -> None:
    pool = _pool(pools, connect, 1)
    first = await _next_backend(pool)
    # Cancelled while the server was still answering: the connection may hold half an answer.
    task = asyncio.create_task(_sleep_on(pool))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert connect.opened[0].is_closed()
    async with pool.acquire() as connection:
        second = await _backend(connection)
        assert await connection.fetchval("SELECT 41 + 1") == 42
    assert second != first
    # Terminated by the server while idle in the pool: found closed (or failing on first use)
    # and replaced.
    killer = await connect()
    await killer.execute("SELECT pg_terminate_backend($1)", second)
    await killer.close()
    await asyncio.sleep(0.2)
    backends = []
    for _ in range(2):
        try:
            async with pool.acquire() as connection:
                backends.append(await _backend(connection))
        except (asyncpg.InterfaceError, asyncpg.PostgresError, OSError):
            continue
    assert backends
    assert not set(backends) & {first, second}
    assert pool.opened == 1


async def _fail_after_use(pool: DriverPool, error: Exception) -> int:
    """The backend of the connection used, then given back by `error` (which is swallowed)."""
    pid = 0
    try:
        async with pool.acquire() as connection:
            pid = await _backend(connection)
            raise error
    except type(error):
        pass
    return pid


async def _duplicate_key(pool: DriverPool) -> None:
    async with pool.acquire() as connection:
        await connection.execute("CREATE TEMP TABLE pool_unique (x int PRIMARY KEY)")
        await connection.execute("INSERT INTO pool_unique VALUES (1), (1)")


async def _sleep_on(pool: DriverPool) -> None:
    async with pool.acquire() as connection:
        await connection.execute("SELECT pg_sleep(5)")


async def test_a_connection_that_cannot_be_opened_frees_its_place(connect: Any) -> None:
    failures = 0

    async def flaky() -> Any:
        nonlocal failures
        if failures < 2:
            failures += 1
            raise OSError("refused")
        return await connect()

    pool = DriverPool(flaky, 1)
    try:
        for _ in range(2):
            with pytest.raises(OSError, match="refused"):
                async with pool.acquire():
                    pass
        assert pool.opened == 0
        async with pool.acquire() as connection:
            assert await connection.fetchval("SELECT 1") == 1
    finally:
        await pool.close()
    with pytest.raises(asyncpg.InterfaceError):
        async with pool.acquire():
            pass
