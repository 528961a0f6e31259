"""The carrier-rate provider interface, and the registry the fulfilment step plugs carriers into.

A provider answers "what can this cart cost to ship to this address?" with rates of its own. The
built-in `table` provider (quotes.TableRateProvider) reads the shop's zones and methods; a carrier
adapter (DHL, UPS, ...) registers a factory under its name:

    register_provider("dhl", lambda session: DhlRates(client))

Every registered provider is asked for every quote; its options carry ids "<name>:<its rate id>",
so choosing one later asks that provider alone. Providers are called while no row lock is held
(the cart quotes before checkout locks anything), and one that fails is logged and skipped: a
carrier outage must not take the shop's own rates with it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from mercato.kit.sql import Executor

TABLE = "table"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,29}$")


@dataclass(frozen=True)
class RateRequest:
    """A cart and where it goes. Amounts in minor units of `currency`; `postal_code` and `region` as
    the address carries them (the cart validated them); `warehouse_ids` None: not known yet."""

    channel_id: uuid.UUID
    currency: str
    country: str
    region: str | None
    postal_code: str | None
    subtotal: int
    weight_grams: int
    warehouse_ids: tuple[uuid.UUID, ...] | None = None


@dataclass(frozen=True)
class CarrierRate:
    """One way to ship the cart, as a provider offers it. `id` is stable for the same method, so a
    chosen option can be checked again at checkout."""

    id: str
    code: str
    name: str
    price: int
    currency: str
    min_days: int
    max_days: int
    carrier: str | None = None
    tax_class: str = "standard"


class CarrierRateProvider(Protocol):
    async def rates(self, request: RateRequest) -> list[CarrierRate]: ...


ProviderFactory = Callable[[Executor], CarrierRateProvider]  # given a session or a bare connection

_registry: dict[str, ProviderFactory] = {}


def register_provider(name: str, factory: ProviderFactory) -> None:
    """Add (or replace) a carrier under `name` (lower-case letters, digits, _ and -; not "table")."""
    if not _NAME.match(name) or name == TABLE:
        raise ValueError(f"invalid or reserved provider name {name!r}")
    _registry[name] = factory


def unregister_provider(name: str) -> None:
    _registry.pop(name, None)


def registered_providers() -> dict[str, ProviderFactory]:
    """The carriers plugged in, by name (the table provider is always there besides them)."""
    return dict(_registry)
