"""Shipping errors with stable codes (the app maps each kind to its HTTP status)."""

from __future__ import annotations

from mercato.kit.errors import Conflict, FieldError, InvalidInput, NotFound


class ZoneNotFound(NotFound):
    code = "shipping.zone_not_found"
    title = "Shipping zone not found"

    def __init__(self) -> None:
        super().__init__("No such shipping zone.")


class MethodNotFound(NotFound):
    code = "shipping.method_not_found"
    title = "Shipping method not found"

    def __init__(self) -> None:
        super().__init__("No such shipping method.")


class ZoneCodeTaken(Conflict):
    code = "shipping.zone_code_taken"
    title = "Code taken"

    def __init__(self, code: str) -> None:
        super().__init__(f"Another shipping zone has the code {code!r}.")


class MethodCodeTaken(Conflict):
    code = "shipping.method_code_taken"
    title = "Code taken"

    def __init__(self, code: str) -> None:
        super().__init__(f"Another method of this zone has the code {code!r}.")


class InvalidShipping(InvalidInput):
    """Zone or method data that is malformed or names things that do not exist (field errors say which)."""

    code = "shipping.invalid"
    title = "Invalid shipping data"

    def __init__(self, errors: list[FieldError], message: str = "Some fields are not valid.") -> None:
        super().__init__(message, errors=errors)


class ShippingOptionUnavailable(InvalidInput):
    """The chosen option does not apply to this address or cart (any more): checkout refuses it."""

    code = "shipping.option_unavailable"
    title = "Shipping option not available"

    def __init__(self, field: str = "shipping_option_id") -> None:
        super().__init__(
            "This shipping option is not available for the address and cart.",
            errors=[FieldError(field, "unavailable", "Choose one of the cart's shipping options.")],
        )
