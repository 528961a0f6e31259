"""Payment use cases: authorize an order's payment, confirm one that needed the buyer's action, and
read what was recorded. Flushes, never commits; never raises on a declined payment (the caller
decides what a decline means for its request).

Idempotency: the payment row is claimed with `INSERT ... ON CONFLICT (gateway, idempotency_key) DO
NOTHING` before the gateway is called. A second attempt with the same key, concurrent or later,
waits on the first one's row until it commits, then finds it and returns its recorded outcome
without calling the gateway; only a transient failure (`failed`) is re-attempted, with the same key.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import structlog
from sqlalchemy import select
from sqlalchemy.exc import NoResultFound
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.clock import utcnow
from mercato.kit.errors import FieldError
from mercato.kit.ids import new_id
from mercato.kit.sql import Statement
from mercato.modules.payments.errors import IdempotencyMismatch, NoActionRequired
from mercato.modules.payments.gateway import (
    AuthorizeRequest,
    ConfirmRequest,
    GatewayResult,
    VoidRequest,
    gateway_named,
)
from mercato.modules.payments.models import Payment
from mercato.modules.payments.rules import RETRYABLE, payment_status, scrub

_log = structlog.get_logger("mercato.payments")

# Checkout's statements go straight to the driver (kit.sql): the claim, then the gateway's answer.
_CLAIM = Statement("""
INSERT INTO payments (id, order_id, gateway, amount, currency, status, idempotency_key, created_at, updated_at)
VALUES (:id, :order_id, :gateway, :amount, :currency, 'pending', :idempotency_key, :now, :now)
ON CONFLICT (gateway, idempotency_key) DO NOTHING
RETURNING id
""")

# Not merged into the claim: the row of a concurrent claim that committed while the claim waited
# for it is visible only to a later statement's snapshot, not to one beside the claim's.
_CLAIMED = Statement("""
SELECT id, order_id, amount, currency, status, decline_code, message, next_action, psp_reference
FROM payments WHERE gateway = :gateway AND idempotency_key = :idempotency_key
FOR UPDATE
""")

# The gateway call's ledger row (parameters: `_transaction`).
_TRANSACTION = Statement("""
INSERT INTO payment_transactions (id, payment_id, kind, amount, currency, status, psp_reference, decline_code, raw,
                                  created_at)
VALUES (:tx_id, :payment_id, :kind, :amount, :currency, :tx_status, :psp_reference, :decline_code,
        CAST(:raw AS jsonb), :now)
""")

# The same row and the payment's new state, in one statement (checkout counts them).
_ANSWERED = Statement("""
WITH tx AS (
    INSERT INTO payment_transactions (id, payment_id, kind, amount, currency, status, psp_reference, decline_code,
                                      raw, created_at)
    VALUES (:tx_id, :payment_id, :kind, :amount, :currency, :tx_status, :psp_reference, :decline_code,
            CAST(:raw AS jsonb), :now))
UPDATE payments SET status = :status, psp_reference = :psp_reference, decline_code = :decline_code,
                    message = :message, next_action = CAST(:next_action AS jsonb), updated_at = :now
WHERE id = :payment_id
""")


@dataclass(frozen=True)
class PaymentOutcome:
    """What became of a payment: `status` is one of rules.PAYMENT_STATUSES. `replayed` is True when
    the outcome was recorded by an earlier call with the same idempotency key (no gateway call)."""

    payment_id: uuid.UUID
    status: str
    decline_code: str | None
    message: str | None
    next_action: dict[str, Any] | None
    psp_reference: str | None
    amount: int
    currency: str
    replayed: bool = False


@dataclass(frozen=True)
class PaymentView:
    id: uuid.UUID
    order_id: uuid.UUID
    gateway: str
    status: str
    amount: int
    currency: str
    psp_reference: str | None
    decline_code: str | None
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"id": str(self.id), "gateway": self.gateway, "status": self.status,
                "amount": {"amount": self.amount, "currency": self.currency}, "psp_reference": self.psp_reference,
                "decline_code": self.decline_code, "created_at": self.created_at.isoformat()}


async def authorize(
    session: AsyncSession, *, order_id: uuid.UUID, amount: int, currency: str, gateway: str, token: str,
    idempotency_key: str, email: str | None = None,
) -> PaymentOutcome:
    """Authorize `amount` for the order through `gateway` (422 `payment.unknown_gateway`), recording
    the payment and the gateway transaction. The same `idempotency_key` again returns the recorded
    outcome (422 `payment.idempotency_mismatch` if it was for another order, amount or currency)."""
    adapter = gateway_named(gateway)
    if not 1 <= len(idempotency_key) <= 255:
        raise IdempotencyMismatch("The payment idempotency key must be 1 to 255 characters.",
                                  errors=[FieldError("idempotency_key", "invalid", "1 to 255 characters.")])
    now = utcnow()
    payment_id: uuid.UUID | None = await _CLAIM.fetchval(
        session, id=new_id(), order_id=order_id, gateway=gateway, amount=amount, currency=currency,
        idempotency_key=idempotency_key, now=now)
    if payment_id is None:
        existing = await _CLAIMED.fetchrow(session, gateway=gateway, idempotency_key=idempotency_key)
        if existing is None:  # the row the claim conflicted with is gone again (as `scalar_one` raised)
            raise NoResultFound("No row was found when one was required")
        if (existing.order_id, existing.amount, existing.currency) != (order_id, amount, currency):
            raise IdempotencyMismatch("This idempotency key was used for another payment.")
        if existing.status not in RETRYABLE:
            _log.info("payment_replayed", payment_id=str(existing.id), gateway=gateway, status=existing.status)
            return PaymentOutcome(existing.id, existing.status, existing.decline_code, existing.message,
                                  existing.next_action, existing.psp_reference, existing.amount, existing.currency,
                                  replayed=True)
        payment_id = existing.id

    request = AuthorizeRequest(amount=amount, currency=currency, token=token, idempotency_key=idempotency_key,
                               reference=f"order:{order_id}", email=email)
    result = await adapter.authorize(request)
    status = payment_status(result.status)
    secrets = frozenset({token})
    next_action = scrub(result.next_action, secrets)
    await _ANSWERED.fetch(
        session, status=status, message=_short(result.message), next_action=_json(next_action),
        **_transaction(payment_id, "authorize", amount, currency, result, secrets=secrets))
    _log.info("payment_authorize", payment_id=str(payment_id), gateway=gateway, status=status,
              decline_code=result.decline_code)
    return PaymentOutcome(payment_id, status, result.decline_code, _short(result.message), next_action,
                          result.psp_reference, amount, currency)


async def confirm(session: AsyncSession, *, order_id: uuid.UUID, data: dict[str, Any]) -> PaymentOutcome:
    """Complete the order's payment that waits for the buyer's action (3-D Secure) with what the
    buyer's step produced (`data`, gateway-specific; the test gateway reads `{"result": "approve"}`).
    409 `payment.no_action_required` when no payment of the order is waiting."""
    payment = (await session.execute(
        select(Payment).where(Payment.order_id == order_id, Payment.status == "requires_action")
        .order_by(Payment.created_at.desc(), Payment.id.desc()).limit(1).with_for_update()
        .execution_options(populate_existing=True)
    )).scalar_one_or_none()
    if payment is None or payment.psp_reference is None:
        raise NoActionRequired("No payment of this order is waiting for the buyer's action.")
    adapter = gateway_named(payment.gateway)
    result = await adapter.confirm(ConfirmRequest(
        psp_reference=payment.psp_reference, idempotency_key=f"{payment.idempotency_key}:confirm",
        amount=payment.amount, currency=payment.currency, data=data))
    status = payment_status(result.status)
    await _record(session, payment.id, "confirm", payment.amount, payment.currency, result)
    if status != "failed":  # a transient failure leaves the payment waiting: the buyer may retry
        payment.status = status
        payment.decline_code = result.decline_code
        payment.message = _short(result.message)
        payment.next_action = None
        payment.updated_at = utcnow()
        await session.flush()
    _log.info("payment_confirm", payment_id=str(payment.id), gateway=payment.gateway, status=status,
              decline_code=result.decline_code)
    return PaymentOutcome(payment.id, status, result.decline_code, _short(result.message),
                          None if status != "failed" else payment.next_action, payment.psp_reference,
                          payment.amount, payment.currency)


async def payments_of(session: AsyncSession, order_id: uuid.UUID) -> list[PaymentView]:
    """The order's payments, oldest first."""
    rows = (await session.execute(
        select(Payment.id, Payment.order_id, Payment.gateway, Payment.status, Payment.amount, Payment.currency,
               Payment.psp_reference, Payment.decline_code, Payment.created_at)
        .where(Payment.order_id == order_id).order_by(Payment.created_at, Payment.id)
    )).all()
    return [PaymentView(*row) for row in rows]


async def _record(
    session: AsyncSession, payment_id: uuid.UUID, kind: str, amount: int, currency: str, result: GatewayResult,
    *, secrets: frozenset[str] = frozenset(),
) -> None:
    await _TRANSACTION.fetch(session, **_transaction(payment_id, kind, amount, currency, result, secrets=secrets))


def _transaction(
    payment_id: uuid.UUID, kind: str, amount: int, currency: str, result: GatewayResult,
    *, secrets: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The parameters of the gateway call's ledger row (`_TRANSACTION`), with the raw answer scrubbed
    of the buyer's secrets."""
    raw = scrub({**result.raw, "message": result.message} if result.message else result.raw, secrets)
    return {"tx_id": new_id(), "payment_id": payment_id, "kind": kind, "amount": amount, "currency": currency,
            "tx_status": result.status, "psp_reference": result.psp_reference, "decline_code": result.decline_code,
            "raw": _json(raw), "now": utcnow()}


def _json(value: Any) -> str:
    """JSON text for a jsonb column. None is JSON null, as SQLAlchemy's JSONB stored it; what orjson
    refuses (integers beyond 64 bits) goes through `json.dumps`, as it did before: a gateway's answer
    must be recorded whatever it holds, the authorization exists."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def _short(message: str | None) -> str | None:
    return message[:500] if message else message


async def void_unrecorded(gateway: str, *, psp_reference: str, idempotency_key: str) -> bool:
    """Void an authorization whose payment record is being rolled back with the order it was for
    (the checkout authorized, then could not complete the order). Best effort: True when voided;
    a gateway failure is logged, and the authorization then lapses at the provider."""
    try:
        result = await gateway_named(gateway).void(VoidRequest(psp_reference, f"void:{idempotency_key}"[:255]))
    except Exception:  # the order is refused either way; the provider's authorization expires
        _log.exception("payment_void_failed", gateway=gateway, psp_reference=psp_reference)
        return False
    _log.info("payment_voided", gateway=gateway, psp_reference=psp_reference, status=result.status)
    return result.status == "voided"
