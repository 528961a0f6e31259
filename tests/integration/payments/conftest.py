from __future__ import annotations

from collections.abc import Iterator

import pytest

from mercato.modules import payments
from tests.integration.payments.spy import SpyGateway


@pytest.fixture
def spy_gateway() -> Iterator[SpyGateway]:
    """A counting gateway named "spy", enabled for the test only."""
    before = payments.enabled_gateways()
    spy = SpyGateway(delay_s=0.05)
    payments.register_gateway(spy)
    try:
        yield spy
    finally:
        payments.enable_gateways(before)
