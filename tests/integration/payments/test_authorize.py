"""payments.authorize against the database: what is recorded per test token, idempotent retries,
and no card token in what is stored or logged."""

from __future__ import annotations

import uuid

import pytest
import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.testing import capture_logs

from mercato.modules import payments
from mercato.modules.payments import service as payment_service
from mercato.modules.payments.models import Payment, PaymentTransaction
from tests.integration.orders.factories import place
from tests.integration.payments.spy import SpyGateway


async def _authorize(session: AsyncSession, order_id: uuid.UUID, token: str, key: str | None = None,
                     gateway: str = "test", amount: int = 4488) -> payments.PaymentOutcome:
    return await payments.authorize(session, order_id=order_id, amount=amount, currency="EUR", gateway=gateway,
                                    token=token, idempotency_key=key or f"k-{uuid.uuid4()}", email="a@example.com")


async def _transactions(session: AsyncSession, payment_id: uuid.UUID) -> list[PaymentTransaction]:
    return list((await session.execute(select(PaymentTransaction).where(PaymentTransaction.payment_id == payment_id)
                                       .order_by(PaymentTransaction.created_at))).scalars())


@pytest.mark.parametrize(("token", "status", "decline_code"), [
    ("tok_visa", "authorized", None),
    ("tok_chargeDeclined", "declined", "card_declined"),
    ("tok_insufficientFunds", "declined", "insufficient_funds"),
    ("tok_threeDSecureRequired", "requires_action", None),
    ("tok_processingError", "failed", "processing_error"),
    ("tok_nonsense", "declined", "invalid_token"),
])
async def test_each_token_is_recorded(session: AsyncSession, token: str, status: str,
                                      decline_code: str | None) -> None:
    placed = await place(session)
    outcome = await _authorize(session, placed.id, token)

    assert (outcome.status, outcome.decline_code, outcome.replayed) == (status, decline_code, False)
    payment = await session.get(Payment, outcome.payment_id, populate_existing=True)
    assert payment is not None
    assert (payment.status, payment.decline_code, payment.amount, payment.order_id) == (
        status, decline_code, 4488, placed.id)
    (tx,) = await _transactions(session, payment.id)
    assert (tx.kind, tx.amount, tx.currency) == ("authorize", 4488, "EUR")
    assert tx.status == ("error" if status == "failed" else status)
    assert token not in str(tx.raw)
    if status == "requires_action":
        assert outcome.next_action is not None
        assert outcome.next_action["type"] == "three_d_secure"
        assert payment.next_action == outcome.next_action


async def test_a_retry_with_the_same_key_replays_without_calling_the_gateway(
    session: AsyncSession, spy_gateway: SpyGateway
) -> None:
    placed = await place(session)
    first = await _authorize(session, placed.id, "tok_visa", "order-1-attempt", gateway=spy_gateway.name)
    again = await _authorize(session, placed.id, "tok_visa", "order-1-attempt", gateway=spy_gateway.name)

    assert spy_gateway.authorize_calls == 1
    assert (again.payment_id, again.status, again.psp_reference) == (first.payment_id, "authorized",
                                                                     first.psp_reference)
    assert again.replayed
    assert not first.replayed
    assert len(await _transactions(session, first.payment_id)) == 1


async def test_a_decline_is_final_for_its_key(session: AsyncSession, spy_gateway: SpyGateway) -> None:
    placed = await place(session)
    first = await _authorize(session, placed.id, "tok_chargeDeclined", "k-decl", gateway=spy_gateway.name)
    # Even with another token: the key names the attempt that was declined.
    again = await _authorize(session, placed.id, "tok_visa", "k-decl", gateway=spy_gateway.name)
    assert (again.payment_id, again.status, again.decline_code) == (first.payment_id, "declined", "card_declined")
    assert spy_gateway.authorize_calls == 1


async def test_a_transient_failure_is_retried_with_the_same_key_on_the_same_payment(
    session: AsyncSession, spy_gateway: SpyGateway
) -> None:
    placed = await place(session)
    failed = await _authorize(session, placed.id, "tok_processingError", "k-flaky", gateway=spy_gateway.name)
    assert failed.status == "failed"
    retried = await _authorize(session, placed.id, "tok_visa", "k-flaky", gateway=spy_gateway.name)

    assert (retried.payment_id, retried.status) == (failed.payment_id, "authorized")
    assert spy_gateway.keys == ["k-flaky", "k-flaky"]  # the provider sees one key: it cannot charge twice
    assert [t.status for t in await _transactions(session, failed.payment_id)] == ["error", "authorized"]
    count = await session.scalar(select(func.count()).select_from(Payment).where(Payment.order_id == placed.id))
    assert count == 1


async def test_the_same_key_for_another_payment_is_refused(session: AsyncSession) -> None:
    placed, other = await place(session), await place(session)
    await _authorize(session, placed.id, "tok_visa", "k-shared")
    with pytest.raises(payments.IdempotencyMismatch) as caught:
        await _authorize(session, other.id, "tok_visa", "k-shared")
    assert caught.value.code == "payment.idempotency_mismatch"
    with pytest.raises(payments.IdempotencyMismatch):
        await _authorize(session, placed.id, "tok_visa", "k-shared", amount=1)


async def test_an_unknown_gateway_records_nothing(session: AsyncSession) -> None:
    placed = await place(session)
    with pytest.raises(payments.UnknownGateway):
        await _authorize(session, placed.id, "tok_visa", gateway="nope")
    assert await session.scalar(select(func.count()).select_from(Payment).where(Payment.order_id == placed.id)) == 0


async def test_confirm_completes_a_three_d_secure_payment(session: AsyncSession) -> None:
    placed = await place(session)
    pending = await _authorize(session, placed.id, "tok_threeDSecureRequired")
    outcome = await payments.confirm(session, order_id=placed.id, data={"result": "approve"})

    assert (outcome.payment_id, outcome.status, outcome.next_action) == (pending.payment_id, "authorized", None)
    payment = await session.get(Payment, pending.payment_id, populate_existing=True)
    assert payment is not None
    assert (payment.status, payment.next_action) == ("authorized", None)
    assert [t.kind for t in await _transactions(session, pending.payment_id)] == ["authorize", "confirm"]
    with pytest.raises(payments.NoActionRequired):
        await payments.confirm(session, order_id=placed.id, data={"result": "approve"})


async def test_payments_of_lists_an_orders_payments(session: AsyncSession) -> None:
    placed = await place(session)
    declined = await _authorize(session, placed.id, "tok_chargeDeclined")
    approved = await _authorize(session, placed.id, "tok_visa")
    views = await payments.payments_of(session, placed.id)
    assert [(v.id, v.status) for v in views] == [(declined.payment_id, "declined"), (approved.payment_id, "authorized")]
    assert views[1].as_dict()["amount"] == {"amount": 4488, "currency": "EUR"}


async def test_no_card_token_in_logs_or_stored_rows(session: AsyncSession, monkeypatch: pytest.MonkeyPatch) -> None:
    placed = await place(session)
    secret_like = f"tok_{uuid.uuid4().hex}"  # an unknown token: declined invalid_token
    with capture_logs() as logs:
        # A fresh logger: the module's own may have cached the processors of an earlier configuration.
        monkeypatch.setattr(payment_service, "_log", structlog.get_logger("mercato.payments"))
        for token in ("tok_visa", "tok_threeDSecureRequired", "tok_processingError", secret_like):
            await _authorize(session, placed.id, token)
        await payments.confirm(session, order_id=placed.id, data={"result": "approve"})
    logged = str(logs)
    assert logged.count("payment_authorize") == 4, "authorize logs its outcome"
    assert "tok_" not in logged
    rows = (await session.execute(select(Payment.next_action, Payment.message, Payment.psp_reference)
                                  .where(Payment.order_id == placed.id))).all()
    raws = (await session.execute(select(PaymentTransaction.raw).join(Payment)
                                  .where(Payment.order_id == placed.id))).scalars().all()
    stored = str(rows) + str(raws)
    for token in ("tok_visa", "tok_threeDSecureRequired", "tok_processingError", secret_like):
        assert token not in stored
