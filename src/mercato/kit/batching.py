"""Requests that ask for the same kind of work at the same moment, served by one call.

Under load, an event loop starts many requests in one iteration, and each sends its own copy of
the same statement. `TickBatcher` gathers what is submitted during one iteration of the loop and
hands it to one call of its function in the next: one round trip and one executor start-up in
PostgreSQL for all of them instead of one each (the fixed part of a statement is most of a small
one's cost). A lone request waits no longer than one turn of the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class TickBatcher(Generic[Item, Result]):
    """`await batcher.submit(item)` → the result for `item` of `run(items)`, which takes the items
    submitted in one iteration of the loop (at most `max_size` at a time) and returns one result
    each, in their order. When `run` raises, every submitter of its batch gets the exception."""

    def __init__(self, run: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]], *, max_size: int = 32) -> None:
        if max_size < 1:
            raise ValueError("a batch holds one item at least")
        self._run = run
        self._max_size = max_size
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._running: set[asyncio.Task[None]] = set()  # the loop keeps only weak references

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._pending.append((item, future))
        if len(self._pending) == 1:
            loop.call_soon(self._flush)
        elif len(self._pending) >= self._max_size:
            self._flush()
        return await future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:  # flushed early when it filled up
            return
        task = asyncio.ensure_future(self._serve(batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _serve(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._run([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} got {len(results)} results")
        except Exception as error:  # each submitter raises it
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        except BaseException:  # cancelled (the loop is closing): so are its submitters
            for _, future in batch:
                future.cancel()
            raise
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # its submitter was cancelled meanwhile
                future.set_result(result)
