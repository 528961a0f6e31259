"""Payments: the gateway interface, the built-in `test` gateway, and payment records.

What others use (this module imports no other business module; orders calls it):

  checkout: `outcome = await authorize(session, order_id=, amount=, currency=, gateway=, token=,
        idempotency_key=, email=)` → PaymentOutcome (status authorized | declined | requires_action |
        failed, decline_code, next_action). Never raises for a decline: raise `Declined(...)` (402
        `payment.declined`) yourself if the request should fail. `gateway_named(name)` checks a name up
        front (422 `payment.unknown_gateway`). Pass an idempotency key that is stable across retries of
        the same purchase: a retry with it returns the recorded outcome and never charges twice.
  3-D Secure: `await confirm(session, order_id=, data={"result": "approve"})` (409
        `payment.no_action_required` when nothing waits).
  admin: `payments_of(session, order_id)` → PaymentView list.
  checkout, when the order fails after the authorization: `void_unrecorded(gateway, psp_reference=,
        idempotency_key=)` (the payment row rolls back with the order).
  adapters: implement `PaymentGateway` and `register_gateway(adapter)`; `enable_gateways(names)`
        restricts which registered gateways may be used (default: every registered one).
"""

from mercato.modules.payments.errors import Declined as Declined
from mercato.modules.payments.errors import IdempotencyMismatch as IdempotencyMismatch
from mercato.modules.payments.errors import NoActionRequired as NoActionRequired
from mercato.modules.payments.errors import UnknownGateway as UnknownGateway
from mercato.modules.payments.gateway import AuthorizeRequest as AuthorizeRequest
from mercato.modules.payments.gateway import CaptureRequest as CaptureRequest
from mercato.modules.payments.gateway import ConfirmRequest as ConfirmRequest
from mercato.modules.payments.gateway import GatewayResult as GatewayResult
from mercato.modules.payments.gateway import PaymentGateway as PaymentGateway
from mercato.modules.payments.gateway import RefundRequest as RefundRequest
from mercato.modules.payments.gateway import VoidRequest as VoidRequest
from mercato.modules.payments.gateway import enable_gateways as enable_gateways
from mercato.modules.payments.gateway import enabled_gateways as enabled_gateways
from mercato.modules.payments.gateway import gateway_named as gateway_named
from mercato.modules.payments.gateway import register_gateway as register_gateway
from mercato.modules.payments.rules import PAYMENT_STATUSES as PAYMENT_STATUSES
from mercato.modules.payments.service import PaymentOutcome as PaymentOutcome
from mercato.modules.payments.service import PaymentView as PaymentView
from mercato.modules.payments.service import authorize as authorize
from mercato.modules.payments.service import confirm as confirm
from mercato.modules.payments.service import payments_of as payments_of
from mercato.modules.payments.service import void_unrecorded as void_unrecorded
from mercato.modules.payments.testgateway import TestGateway as TestGateway

register_gateway(TestGateway())
