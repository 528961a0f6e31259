"""Customers with tokens (no argon2, no HTTP) and reviews in a given state, for review tests."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.settings import Settings
from mercato.modules.catalog.models import Product, Review
from mercato.modules.identity.models import AuthSession, Customer
from mercato.modules.identity.tokens import issue_access_token

_seq = itertools.count(1)


@dataclass(frozen=True)
class TestCustomer:
    id: uuid.UUID
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


async def make_customers(
    session: AsyncSession, settings: Settings, n: int = 1, *, first_name: str = "Jane", last_name: str = "Doe"
) -> list[TestCustomer]:
    """`n` customers signed in on one shared session row (the authenticator checks only the session)."""
    assert settings.secret_key
    now = utcnow()
    auth_session = AuthSession(subject_kind="customer", subject_id=uuid.uuid4(), created_at=now, last_seen_at=now,
                               idle_expires_at=now + timedelta(hours=1), absolute_expires_at=now + timedelta(hours=1))
    session.add(auth_session)
    made = []
    for _ in range(n):
        customer = Customer(email=f"c{next(_seq)}-{uuid.uuid4().hex[:8]}@example.com", password_hash="x",
                            first_name=first_name, last_name=last_name)
        session.add(customer)
        made.append(customer)
    await session.flush()
    return [
        TestCustomer(c.id, issue_access_token(settings.secret_key, subject=str(c.id), kind="customer", permissions=[],
                                              ttl=timedelta(minutes=10), session_id=str(auth_session.id)))
        for c in made
    ]


async def make_review(
    session: AsyncSession, product: Product, customer: TestCustomer, *, rating: int = 5, status: str = "approved",
    title: str = "", body: str = "", helpful_count: int = 0,
) -> Review:
    review = Review(product_id=product.id, customer_id=customer.id, author_name="Jane D.", rating=rating,
                    title=title, body=body, status=status, helpful_count=helpful_count, verified_purchase=False)
    session.add(review)
    await session.flush()
    return review
