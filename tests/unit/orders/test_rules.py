"""Order statuses after payments, order tokens and numbers, and draft checks."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mercato.modules.orders import OrderDraft, OrderLineDraft
from mercato.modules.orders.drafts import check_draft
from mercato.modules.orders.rules import (
    ORDER_STATUSES,
    PAYMENT_STATUSES,
    format_number,
    new_token,
    status_after_payment,
    token_hash,
    token_matches,
)


@pytest.mark.parametrize("payment", ["authorized", "captured"])
def test_a_secured_payment_confirms_a_pending_order(payment: str) -> None:
    assert status_after_payment("pending", payment) == "confirmed"


@pytest.mark.parametrize("payment", ["pending", "requires_action", "failed", "declined"])
def test_an_unsecured_payment_leaves_the_order_pending(payment: str) -> None:
    assert status_after_payment("pending", payment) == "pending"


@given(st.sampled_from(ORDER_STATUSES), st.sampled_from(PAYMENT_STATUSES))
def test_only_pending_orders_move_and_only_to_confirmed(status: str, payment: str) -> None:
    after = status_after_payment(status, payment)
    assert after == status or (status, after) == ("pending", "confirmed")


def test_an_unknown_payment_status_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown payment status"):
        status_after_payment("pending", "paid")


def test_tokens_are_long_random_and_only_their_hash_matches() -> None:
    token = new_token()
    assert len(token) >= 43
    assert token != new_token()
    stored = token_hash(token)
    assert token not in stored
    assert len(stored) == 64
    assert token_matches(token, stored)
    assert not token_matches(token[:-1], stored)
    assert not token_matches("", stored)


def test_order_numbers() -> None:
    assert format_number(100001) == "M-100001"


def _line(quantity: int = 1) -> OrderLineDraft:
    return OrderLineDraft(variant_id=uuid.uuid4(), product_id=uuid.uuid4(), sku="S", name="N", quantity=quantity,
                          unit_price=100, subtotal=100 * quantity, discount=0, tax=0, total=100 * quantity,
                          tax_rate_ppm=0, breakdown=[])


def _draft(lines: list[OrderLineDraft], totals: dict[str, int] | None = None) -> OrderDraft:
    return OrderDraft(channel_id=uuid.uuid4(), currency="EUR", customer_id=None, email="a@example.com",
                      shipping_address={}, billing_address={}, shipping_option=None, lines=lines,
                      totals=totals if totals is not None else dict.fromkeys(
                          ("subtotal", "discount", "shipping", "tax", "total"), 0),
                      breakdown=[], coupons=[], cart_id=None, prices_include_tax=True)


def test_drafts_are_checked() -> None:
    check_draft(_draft([_line()]))
    with pytest.raises(ValueError, match="at least one line"):
        check_draft(_draft([]))
    with pytest.raises(ValueError, match="totals"):
        check_draft(_draft([_line()], {"total": 1}))
    with pytest.raises(ValueError, match="positive"):
        check_draft(_draft([_line(0)]))
