"""Cart errors with stable codes (the app maps each kind to its HTTP status)."""

from __future__ import annotations

from mercato.kit.errors import Conflict, FieldError, InvalidInput, NotFound


class CartNotFound(NotFound):
    """Also for a cart that exists but belongs to someone else, or has expired."""

    code = "cart.not_found"
    title = "Cart not found"

    def __init__(self) -> None:
        super().__init__("No such cart.")


class LineNotFound(NotFound):
    code = "cart.line_not_found"
    title = "Cart line not found"

    def __init__(self) -> None:
        super().__init__("The cart has no such line.")


class CouponNotOnCart(NotFound):
    code = "cart.coupon_not_found"
    title = "Coupon not on the cart"

    def __init__(self) -> None:
        super().__init__("The cart does not carry this code.")


class CartCompleted(Conflict):
    code = "cart.completed"
    title = "Cart already checked out"

    def __init__(self) -> None:
        super().__init__("This cart became an order; start a new cart.")


class UnknownChannel(InvalidInput):
    code = "cart.unknown_channel"
    title = "Unknown channel"

    def __init__(self) -> None:
        super().__init__("No such active channel.", errors=[FieldError("query.channel", "unknown",
                                                                        "No active channel has this code.")])


class CurrencyMismatch(InvalidInput):
    code = "cart.currency_mismatch"
    title = "Wrong currency"

    def __init__(self, currency: str) -> None:
        super().__init__(f"This channel sells in {currency}.", errors=[
            FieldError("currency", "mismatch", f"This channel sells in {currency}.")])


class UnknownVariant(InvalidInput):
    code = "cart.unknown_variant"
    title = "Unknown variant"

    def __init__(self) -> None:
        super().__init__("No variant has this id.", errors=[FieldError("variant_id", "unknown",
                                                                        "No variant has this id.")])


class VariantUnavailable(Conflict):
    """Not published, not listed or not priced in the cart's channel."""

    code = "cart.variant_unavailable"
    title = "Not for sale here"

    def __init__(self, field: str = "variant_id") -> None:
        super().__init__("This item is not for sale in this shop.", errors=[
            FieldError(field, "unavailable", "Not for sale in this shop.")])


class InvalidQuantity(InvalidInput):
    code = "cart.invalid_quantity"
    title = "Invalid quantity"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("The quantity is not allowed.", errors=errors)


class InsufficientStock(Conflict):
    code = "cart.insufficient_stock"
    title = "Not enough stock"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("Not enough stock for the quantity asked.", errors=errors)


class TooManyLines(Conflict):
    code = "cart.too_many_lines"
    title = "Cart full"

    def __init__(self, limit: int) -> None:
        super().__init__(f"A cart holds at most {limit} different items.")


class TooManyCoupons(InvalidInput):
    code = "cart.too_many_coupons"
    title = "Too many coupons"

    def __init__(self, limit: int) -> None:
        super().__init__(f"A cart carries at most {limit} codes.", errors=[
            FieldError("code", "too_many", f"At most {limit} codes per cart.")])


class CountryNotSold(InvalidInput):
    code = "cart.country_not_supported"
    title = "Country not supported"

    def __init__(self, field: str) -> None:
        super().__init__("This shop does not ship to this country.", errors=[
            FieldError(field, "not_sold", "This shop does not ship to this country.")])


class InvalidCart(InvalidInput):
    """Other field problems of a cart update (the errors say which)."""

    code = "cart.invalid"
    title = "Invalid cart data"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("Some fields are not valid.", errors=errors)


class ShippingAddressRequired(InvalidInput):
    code = "cart.shipping_address_required"
    title = "Shipping address required"

    def __init__(self) -> None:
        super().__init__("Give a shipping address first.", errors=[
            FieldError("shipping_address", "required", "Give a shipping address first.")])


class CheckoutIncomplete(InvalidInput):
    """What checkout needs and the cart lacks: `cart.empty`, `cart.email_required`,
    `cart.shipping_address_required`, `cart.shipping_option_required`."""

    title = "Cart not ready for checkout"

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(message, code=code, errors=[FieldError(field, "required", message)])


class NotYourGuestCart(Conflict):
    code = "cart.not_mergeable"
    title = "Cart cannot be merged"

    def __init__(self, message: str) -> None:
        super().__init__(message)
