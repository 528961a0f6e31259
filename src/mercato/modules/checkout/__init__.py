"""Checkout: turns a cart into an order — `POST /store/carts/{cart_id}/checkout`.

It owns no table: it re-validates the cart through `cart`, holds its stock through `inventory`,
counts coupon use through `promotions`, creates the order through `orders` and authorizes the
payment through `payments`, in the order and the transactions `service.place_order` documents.
"""

from mercato.modules.checkout.service import CheckoutResult as CheckoutResult
from mercato.modules.checkout.service import place_order as place_order
