"""The built-in `test` gateway answers API.md's tokens exactly, and deterministically."""

from __future__ import annotations

import pytest

from mercato.modules import payments
from mercato.modules.payments.gateway import (
    AuthorizeRequest,
    CaptureRequest,
    ConfirmRequest,
    RefundRequest,
    VoidRequest,
)
from mercato.modules.payments.testgateway import THREE_DS_URL, TestGateway


def _req(token: str, key: str = "key-1") -> AuthorizeRequest:
    return AuthorizeRequest(amount=1999, currency="EUR", token=token, idempotency_key=key, reference="order:x")


async def test_visa_is_authorized() -> None:
    result = await TestGateway().authorize(_req("tok_visa"))
    assert result.status == "authorized"
    assert result.psp_reference is not None
    assert result.psp_reference.startswith("tst_auth_")
    assert result.decline_code is None
    assert result.next_action is None
    assert result.raw["amount"] == 1999
    assert result.raw["status"] == "authorized"


@pytest.mark.parametrize(("token", "code"), [("tok_chargeDeclined", "card_declined"),
                                             ("tok_insufficientFunds", "insufficient_funds")])
async def test_declining_tokens(token: str, code: str) -> None:
    result = await TestGateway().authorize(_req(token))
    assert (result.status, result.decline_code) == ("declined", code)
    assert result.raw["decline_code"] == code


async def test_three_d_secure_needs_action_then_confirm_decides() -> None:
    gateway = TestGateway()
    result = await gateway.authorize(_req("tok_threeDSecureRequired"))
    assert result.status == "requires_action"
    assert result.psp_reference is not None
    assert result.next_action == {"type": "three_d_secure", "url": THREE_DS_URL + result.psp_reference}

    def confirm(data: dict[str, str]) -> ConfirmRequest:
        assert result.psp_reference is not None
        return ConfirmRequest(psp_reference=result.psp_reference, idempotency_key="key-1:confirm", amount=1999,
                              currency="EUR", data=data)

    approved = await gateway.confirm(confirm({"result": "approve"}))
    assert (approved.status, approved.psp_reference) == ("authorized", result.psp_reference)
    failed = await gateway.confirm(confirm({"result": "fail"}))
    assert (failed.status, failed.decline_code) == ("declined", "authentication_failed")
    assert (await gateway.confirm(confirm({}))).status == "declined"


async def test_processing_error_is_transient_every_time() -> None:
    gateway = TestGateway()
    for _ in range(3):
        result = await gateway.authorize(_req("tok_processingError"))
        assert (result.status, result.decline_code, result.psp_reference) == ("error", "processing_error", None)


@pytest.mark.parametrize("token", ["tok_unknown", "", "tok_VISA", "4242424242424242"])
async def test_unknown_tokens_are_declined_as_invalid(token: str) -> None:
    result = await TestGateway().authorize(_req(token))
    assert (result.status, result.decline_code) == ("declined", "invalid_token")


async def test_the_same_key_names_the_same_charge_and_another_key_another() -> None:
    gateway = TestGateway()
    first = await gateway.authorize(_req("tok_visa", "k1"))
    again = await TestGateway().authorize(_req("tok_visa", "k1"))  # any process: stateless
    other = await gateway.authorize(_req("tok_visa", "k2"))
    assert first.psp_reference == again.psp_reference != other.psp_reference


@pytest.mark.parametrize("token", ["tok_visa", "tok_chargeDeclined", "tok_threeDSecureRequired",
                                   "tok_processingError", "tok_secret_unknown_123"])
async def test_no_answer_carries_the_token(token: str) -> None:
    result = await TestGateway().authorize(_req(token))
    assert token not in repr(result)


async def test_capture_void_refund_succeed() -> None:
    gateway = TestGateway()
    captured = await gateway.capture(CaptureRequest("tst_auth_x", 1000, "EUR", "c1"))
    voided = await gateway.void(VoidRequest("tst_auth_x", "v1"))
    refunded = await gateway.refund(RefundRequest("tst_auth_x", 500, "EUR", "r1", reason="damaged"))
    assert [captured.status, voided.status, refunded.status] == ["captured", "voided", "refunded"]
    assert refunded.raw["amount"] == 500


def test_the_test_gateway_is_registered_and_enabled() -> None:
    assert isinstance(payments.gateway_named("test"), TestGateway)
    assert "test" in payments.enabled_gateways()


def test_an_unknown_gateway_is_a_422_problem() -> None:
    with pytest.raises(payments.UnknownGateway) as caught:
        payments.gateway_named("stripe-not-installed")
    assert caught.value.code == "payment.unknown_gateway"
    assert caught.value.errors[0].field == "payment.gateway"


def test_disabled_gateways_are_unknown() -> None:
    before = payments.enabled_gateways()
    try:
        payments.enable_gateways([])
        with pytest.raises(payments.UnknownGateway):
            payments.gateway_named("test")
        payments.enable_gateways(["test", "not-registered"])
        assert payments.enabled_gateways() == ["test"]
    finally:
        payments.enable_gateways(before)
