"""Orders: placed orders, their lines and timeline, and the buyer's and staff's views of them.

What others use:

  checkout: `placed = await create_order(session, OrderDraft(...), order_id=None)` → PlacedOrder(id,
        number, token) — status pending, payment pending, unfulfilled; `order.placed` on the outbox;
        409 `order.cart_already_ordered` if the cart already has an order. `token` is the plain order
        token (only its sha256 is stored): return it to the buyer as `order_token`.
        Then `await record_payment(session, order_id, payment_status=outcome.status,
        event="payment.authorized", data={...}, actor=)` — payment_status one of PAYMENT_STATUSES;
        authorized/captured moves a pending order to confirmed (`order.confirmed`).
        `await order_json(session, order_id)` → the API.md Order shape (`admin=True` adds `events`,
        `payments`, customer/channel/cart ids); `OrderOut` is its response model.
  events: `order.placed` (OrderPlaced), `order.confirmed` (OrderConfirmed).
"""

from mercato.modules.orders.drafts import OrderDraft as OrderDraft
from mercato.modules.orders.drafts import OrderLineDraft as OrderLineDraft
from mercato.modules.orders.drafts import PlacedOrder as PlacedOrder
from mercato.modules.orders.errors import CartAlreadyOrdered as CartAlreadyOrdered
from mercato.modules.orders.errors import OrderNotFound as OrderNotFound
from mercato.modules.orders.events import OrderConfirmed as OrderConfirmed
from mercato.modules.orders.events import OrderPlaced as OrderPlaced
from mercato.modules.orders.rules import ORDER_STATUSES as ORDER_STATUSES
from mercato.modules.orders.rules import PAYMENT_STATUSES as PAYMENT_STATUSES
from mercato.modules.orders.schemas import OrderOut as OrderOut
from mercato.modules.orders.service import create_order as create_order
from mercato.modules.orders.service import order_json as order_json
from mercato.modules.orders.service import record_payment as record_payment
