"""Pricing errors with stable codes (the app maps each kind to its HTTP status)."""

from __future__ import annotations

from mercato.kit.errors import Conflict, FieldError, InvalidInput, NotFound


class CustomerGroupNotFound(NotFound):
    code = "pricing.customer_group_not_found"
    title = "Customer group not found"

    def __init__(self) -> None:
        super().__init__("No such customer group.")


class PriceListNotFound(NotFound):
    code = "pricing.price_list_not_found"
    title = "Price list not found"

    def __init__(self) -> None:
        super().__init__("No such price list.")


class GroupCodeTaken(Conflict):
    code = "pricing.customer_group_code_taken"
    title = "Code taken"

    def __init__(self, code: str) -> None:
        super().__init__(f"Another customer group has the code {code!r}.")


class GroupInUse(Conflict):
    code = "pricing.customer_group_in_use"
    title = "Customer group in use"

    def __init__(self) -> None:
        super().__init__("Price lists use this customer group; delete or reassign them first.")


class InvalidPricing(InvalidInput):
    """Input that names things that do not exist or do not fit together (field errors say which)."""

    code = "pricing.invalid"
    title = "Invalid price data"

    def __init__(self, errors: list[FieldError], message: str = "Some fields are not valid.") -> None:
        super().__init__(message, errors=errors)
