"""The gateway interface every payment provider adapter implements, and the registry that names
them.

Adapters translate between Mercato and one provider. They never see the database: the service
(`service.py`) records what they answer. Every call carries an idempotency key, so a call retried
after a timeout or a lost response is deduplicated by the provider instead of charging twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from mercato.kit.errors import FieldError
from mercato.modules.payments.errors import UnknownGateway

GatewayStatus = Literal["authorized", "declined", "requires_action", "error", "captured", "voided", "refunded"]


@dataclass(frozen=True)
class AuthorizeRequest:
    amount: int
    currency: str
    # The provider's one-time payment-method token (never stored, never logged).
    token: str
    idempotency_key: str
    # What the payment is for ("order:<id>"), shown in the provider's dashboard.
    reference: str
    email: str | None = None


@dataclass(frozen=True)
class ConfirmRequest:
    """Completes a payment that needed the buyer's action (3-D Secure); `data` is what the
    provider's client-side step produced."""

    psp_reference: str
    idempotency_key: str
    amount: int
    currency: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CaptureRequest:
    psp_reference: str
    amount: int
    currency: str
    idempotency_key: str


@dataclass(frozen=True)
class VoidRequest:
    psp_reference: str
    idempotency_key: str


@dataclass(frozen=True)
class RefundRequest:
    psp_reference: str
    amount: int
    currency: str
    idempotency_key: str
    reason: str = ""


@dataclass(frozen=True)
class GatewayResult:
    """A provider's answer. `error` is transient (timeout, processing error): retrying with the
    same idempotency key is safe. `raw` is the provider's response as recorded, without secrets."""

    status: GatewayStatus
    psp_reference: str | None = None
    decline_code: str | None = None
    message: str | None = None
    next_action: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict)


class PaymentGateway(Protocol):
    name: str

    async def authorize(self, req: AuthorizeRequest) -> GatewayResult: ...

    async def confirm(self, req: ConfirmRequest) -> GatewayResult: ...

    async def capture(self, req: CaptureRequest) -> GatewayResult: ...

    async def void(self, req: VoidRequest) -> GatewayResult: ...

    async def refund(self, req: RefundRequest) -> GatewayResult: ...


_registered: dict[str, PaymentGateway] = {}
# Which registered gateways checkout may use; replaced by `enable_gateways` (from settings).
_enabled: set[str] = set()


def register_gateway(gateway: PaymentGateway, *, enabled: bool = True) -> None:
    """Make `gateway` known under its name (a later registration with the same name replaces it)."""
    _registered[gateway.name] = gateway
    if enabled:
        _enabled.add(gateway.name)


def enable_gateways(names: Iterable[str]) -> None:
    """Allow exactly the registered gateways in `names` (unknown names are ignored: they may belong
    to an adapter that is not installed)."""
    _enabled.clear()
    _enabled.update(name for name in names if name in _registered)


def enabled_gateways() -> list[str]:
    return sorted(_enabled)


def gateway_named(name: str) -> PaymentGateway:
    """The enabled gateway called `name`, else 422 `payment.unknown_gateway`."""
    gateway = _registered.get(name) if name in _enabled else None
    if gateway is None:
        raise UnknownGateway(
            f"No payment gateway {name!r} is enabled.",
            errors=[FieldError("payment.gateway", "unknown", "One of: " + ", ".join(enabled_gateways()))],
        )
    return gateway
