"""Pure payment rules: statuses, what a gateway answer means for a payment, and scrubbing secrets
out of what is stored."""

from __future__ import annotations

from typing import Any

from mercato.modules.payments.gateway import GatewayStatus

PAYMENT_STATUSES = ("pending", "authorized", "requires_action", "declined", "failed", "captured", "voided",
                    "refunded")
TRANSACTION_KINDS = ("authorize", "capture", "void", "refund", "confirm")
# A transaction's status is the gateway's answer.
TRANSACTION_STATUSES = ("authorized", "declined", "requires_action", "error", "captured", "voided", "refunded")

# A payment in one of these states is re-attempted (same key, so the provider deduplicates) when
# authorize is called again with its key; any other state is the final answer for that key.
RETRYABLE = frozenset({"pending", "failed"})

_SECRET_KEYS = frozenset({"token", "card", "card_number", "number", "cvc", "cvv", "pan", "exp_month", "exp_year",
                          "password", "secret", "client_secret", "authorization_header", "api_key"})
REDACTED = "[redacted]"


def payment_status(gateway_status: GatewayStatus) -> str:
    """The payment's status after a gateway answer (`error` is a transient failure: `failed`)."""
    return "failed" if gateway_status == "error" else gateway_status


def scrub(value: Any, secrets: frozenset[str] = frozenset()) -> Any:
    """`value` without secret-looking keys, and with any of the `secrets` strings (the buyer's
    token) replaced wherever they occur, so a careless adapter cannot leak them into storage."""
    if isinstance(value, dict):
        return {str(k): REDACTED if str(k).lower() in _SECRET_KEYS else scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v, secrets) for v in value]
    if isinstance(value, str):
        for secret in secrets:
            if secret and secret in value:
                value = value.replace(secret, REDACTED)
        return value
    return value
