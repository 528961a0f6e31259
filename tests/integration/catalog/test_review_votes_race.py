"""Helpful votes under real concurrency: a committed database and a real connection pool, so each
request is its own transaction racing the others."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import func, select

from mercato.kit.settings import Settings
from mercato.modules.catalog.models import Review, ReviewVote
from tests.fixtures.live import Live
from tests.integration.catalog.factories import make_product, refresh
from tests.integration.catalog.review_factories import make_customers, make_review

VOTERS = 40


async def test_concurrent_votes_keep_helpful_count_exact(live: Live, settings: Settings) -> None:
    async with live.db.sessionmaker() as s, s.begin():
        product = await make_product(s, "Kettle")
        await refresh(s, [product])
        author, *voters = await make_customers(s, settings, VOTERS + 1)
        review = await make_review(s, product, author)
    url = f"/store/reviews/{review.id}/vote"

    # Round 1: everyone votes at once, two in three helpful.
    first = [i % 3 != 0 for i in range(VOTERS)]
    responses = await asyncio.gather(*(
        live.client.put(url, headers=v.auth, json={"helpful": h}) for v, h in zip(voters, first, strict=True)
    ))
    assert Counter(r.status_code for r in responses) == {200: VOTERS}, [r.text for r in responses][:3]
    assert await _count(live) == (sum(first), sum(first))

    # Round 2: everyone at once again, flipping, withdrawing or repeating their vote.
    async def act(i: int) -> int:
        voter = voters[i]
        if i % 4 == 0:
            return (await live.client.delete(url, headers=voter.auth)).status_code
        helpful = not first[i] if i % 4 == 1 else first[i]
        return (await live.client.put(url, headers=voter.auth, json={"helpful": helpful})).status_code

    assert set(await asyncio.gather(*(act(i) for i in range(VOTERS)))) == {200}
    final = {i: (None if i % 4 == 0 else (not first[i] if i % 4 == 1 else first[i])) for i in range(VOTERS)}
    expected = sum(1 for vote in final.values() if vote)
    assert await _count(live) == (expected, expected)


async def _count(live: Live) -> tuple[int, int]:
    """(stored helpful_count, helpful votes actually recorded)."""
    async with live.db.sessionmaker() as s:
        stored = (await s.execute(select(Review.helpful_count))).scalar_one()
        recorded = (await s.execute(
            select(func.count()).select_from(ReviewVote).where(ReviewVote.helpful.is_(True))
        )).scalar_one()
    return int(stored), int(recorded)
