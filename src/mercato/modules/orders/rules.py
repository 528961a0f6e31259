"""Pure order rules: the states an order and its payment can be in, how a payment moves the
order, order numbers, and order-token hashing."""

from __future__ import annotations

import hashlib
import hmac
import secrets

ORDER_STATUSES = ("pending", "confirmed", "processing", "completed", "cancelled")
PAYMENT_STATUSES = ("pending", "requires_action", "authorized", "captured", "failed", "declined", "voided",
                    "partially_refunded", "refunded")
FULFILLMENT_STATUSES = ("unfulfilled", "partially_fulfilled", "fulfilled", "returned")

# Payment states in which the money is secured: a pending order becomes confirmed.
SECURED = frozenset({"authorized", "captured"})

NUMBER_PREFIX = "M-"
NUMBER_START = 100001


def status_after_payment(status: str, payment_status: str) -> str:
    """The order's status once its payment reached `payment_status`."""
    if payment_status not in PAYMENT_STATUSES:
        raise ValueError(f"unknown payment status {payment_status!r}")
    if status == "pending" and payment_status in SECURED:
        return "confirmed"
    return status


def format_number(sequence_value: int) -> str:
    return f"{NUMBER_PREFIX}{sequence_value}"


def new_token() -> str:
    """The order token handed to the buyer once (256 bits); only its hash is stored."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    """Constant-time comparison, so response timing tells nothing about the stored hash."""
    return hmac.compare_digest(token_hash(token), stored_hash)


def one_of(column: str, values: tuple[str, ...]) -> str:
    """A CHECK constraint's SQL: `column` holds one of `values`."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"
