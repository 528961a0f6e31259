"""MERCATO_PAYMENT_GATEWAYS decides which gateways checkout may use (the app applies it at start)."""

from __future__ import annotations

import pytest

from mercato.app import create_app
from mercato.kit.settings import Settings
from mercato.modules import payments


def test_the_setting_enables_exactly_the_named_gateways(settings: Settings) -> None:
    try:
        create_app(settings.model_copy(update={"payment_gateways": []}))
        with pytest.raises(payments.UnknownGateway):
            payments.gateway_named("test")
        create_app(settings.model_copy(update={"payment_gateways": ["test", "not-installed"]}))
        assert payments.enabled_gateways() == ["test"]
        assert payments.gateway_named("test").name == "test"
    finally:
        payments.enable_gateways(settings.payment_gateways)


def test_the_environment_lists_gateways_comma_separated() -> None:
    assert Settings(payment_gateways="test, stripe").payment_gateways == ["test", "stripe"]  # type: ignore[arg-type]
    assert Settings().payment_gateways == ["test"]
