"""`kit.batching.TickBatcher`: what is submitted in one turn of the event loop is served by one call,
each submitter gets its own result (or the call's exception), and a cancelled submitter takes
nothing from the others."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from mercato.kit.batching import TickBatcher


class Recorder:
    def __init__(self, *, fail: bool = False, wrong_count: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.fail = fail
        self.wrong_count = wrong_count

    async def __call__(self, items: Sequence[int]) -> list[str]:
        self.batches.append(list(items))
        await asyncio.sleep(0)  # a real call waits for its answer
        if self.fail:
            raise LookupError("the statement failed")
        results = [f"r{item}" for item in items]
        return results[:-1] if self.wrong_count else results


async def test_submissions_of_one_turn_share_a_call() -> None:
    run = Recorder()
    batcher = TickBatcher(run)
    results = await asyncio.gather(*(batcher.submit(n) for n in range(5)))
    assert results == ["r0", "r1", "r2", "r3", "r4"]
    assert run.batches == [[0, 1, 2, 3, 4]]


async def test_later_submissions_make_a_new_batch() -> None:
    run = Recorder()
    batcher = TickBatcher(run)
    assert await batcher.submit(1) == "r1"
    assert await asyncio.gather(batcher.submit(2), batcher.submit(3)) == ["r2", "r3"]
    assert run.batches == [[1], [2, 3]]


async def test_a_full_batch_goes_at_once() -> None:
    run = Recorder()
    batcher = TickBatcher(run, max_size=3)
    results = await asyncio.gather(*(batcher.submit(n) for n in range(7)))
    assert results == [f"r{n}" for n in range(7)]
    assert run.batches == [[0, 1, 2], [3, 4, 5], [6]]


async def test_every_submitter_of_a_failed_batch_gets_the_error() -> None:
    batcher = TickBatcher(Recorder(fail=True))
    outcomes = await asyncio.gather(*(batcher.submit(n) for n in range(3)), return_exceptions=True)
    assert [type(outcome) for outcome in outcomes] == [LookupError] * 3


async def test_a_batch_answered_with_the_wrong_number_of_results_fails_everyone() -> None:
    batcher = TickBatcher(Recorder(wrong_count=True))
    outcomes = await asyncio.gather(batcher.submit(1), batcher.submit(2), return_exceptions=True)
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)


async def test_a_cancelled_submitter_leaves_the_others_their_results() -> None:
    run = Recorder()
    batcher = TickBatcher(run)
    first = asyncio.ensure_future(batcher.submit(1))
    second = asyncio.ensure_future(batcher.submit(2))
    await asyncio.sleep(0)  # both submitted; the batch is being served
    first.cancel()
    assert await second == "r2"
    with pytest.raises(asyncio.CancelledError):
        await first
    assert run.batches == [[1, 2]]


def test_a_batch_holds_one_item_at_least() -> None:
    with pytest.raises(ValueError, match="one item"):
        TickBatcher(Recorder(), max_size=0)
