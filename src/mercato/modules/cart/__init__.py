"""Cart: guest and customer carts, their lines, buyer data, shipping choice and coupons, priced on
every read by the composed pricing engine (`pricing.price_cart`).

For the checkout:
  * `checkout_view(session, cart_id, *, principal_customer_id, lock)` → CheckoutView: the cart
    locked, priced afresh (prices, promotions, shipping quoted again, tax) and validated (422/409
    problems: cart.empty, cart.email_required (a guest's cart without one: a customer's cart
    falls back to the account's address), cart.shipping_address_required,
    cart.shipping_option_required, shipping.option_unavailable, promotion.*, cart.variant_unavailable,
    inventory.insufficient_stock ...). Reserve stock under `view.reservation_reference` ("cart:<id>"):
    the cart gives that reservation back whenever its lines change afterwards.
  * `mark_completed(session, cart_id, order_id)`: the cart is closed (later changes → 409 cart.completed).
  * `cart_json(state, priced)` renders a cart; `view.cart` is the checkout's cart rendered.
Events: `cart.abandoned` (CartAbandoned). Jobs: cart.notice_abandoned, cart.purge_expired.
"""

from mercato.modules.cart.checkout import CheckoutLine as CheckoutLine
from mercato.modules.cart.checkout import CheckoutView as CheckoutView
from mercato.modules.cart.checkout import checkout_view as checkout_view
from mercato.modules.cart.checkout import mark_completed as mark_completed
from mercato.modules.cart.events import CartAbandoned as CartAbandoned
from mercato.modules.cart.fast_add import GuestLineAdds as GuestLineAdds
from mercato.modules.cart.render import cart_json as cart_json
from mercato.modules.cart.service import get_cart as get_cart
