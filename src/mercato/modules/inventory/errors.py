"""Inventory errors with stable codes (the app maps each kind to its HTTP status)."""

from __future__ import annotations

from mercato.kit.errors import Conflict, FieldError, InvalidInput, NotFound


class InsufficientStock(Conflict):
    code = "inventory.insufficient_stock"
    title = "Not enough stock"

    def __init__(self, shortages: list[FieldError] | None = None) -> None:
        super().__init__("Not enough stock for the quantity asked.", errors=shortages or [])


class WarehouseNotFound(NotFound):
    code = "inventory.warehouse_not_found"
    title = "Warehouse not found"

    def __init__(self) -> None:
        super().__init__("No such warehouse.")


class WarehouseCodeTaken(Conflict):
    code = "inventory.warehouse_code_taken"
    title = "Code taken"

    def __init__(self, code: str) -> None:
        super().__init__(f"Another warehouse has the code {code!r}.")


class WarehouseInUse(Conflict):
    code = "inventory.warehouse_in_use"
    title = "Warehouse in use"

    def __init__(self) -> None:
        super().__init__("The warehouse holds stock or documents; deactivate it instead.")


class VariantNotFound(NotFound):
    code = "inventory.variant_not_found"
    title = "Variant not found"

    def __init__(self) -> None:
        super().__init__("No such variant.")


class ReservationNotFound(NotFound):
    code = "inventory.reservation_not_found"
    title = "Reservation not found"

    def __init__(self) -> None:
        super().__init__("No active reservation with this reference.")


class AllocationNotFound(NotFound):
    code = "inventory.allocation_not_found"
    title = "Allocation not found"

    def __init__(self) -> None:
        super().__init__("No such allocation.")


class NegativeOnHand(Conflict):
    code = "inventory.negative_on_hand"
    title = "Stock cannot go below zero"

    def __init__(self, on_hand: int) -> None:
        super().__init__(f"Only {on_hand} on hand; physical stock cannot go below zero.")


class LotRequired(InvalidInput):
    code = "inventory.lot_required"
    title = "Lot number required"

    def __init__(self) -> None:
        super().__init__("This variant is tracked by lot: receipts need a lot number (and expiry date).",
                         errors=[FieldError("lot_number", "required", "Required for a lot-tracked variant.")])


class InvalidInventory(InvalidInput):
    """Input that names things that do not exist or do not fit together (field errors say which)."""

    code = "inventory.invalid"
    title = "Invalid inventory data"

    def __init__(self, errors: list[FieldError], message: str = "Some fields are not valid.") -> None:
        super().__init__(message, errors=errors)


class InvalidTransition(Conflict):
    code = "inventory.invalid_transition"
    title = "Not allowed in this state"

    def __init__(self, what: str, status: str, action: str) -> None:
        super().__init__(f"A {what} that is {status} cannot be {action}.")


class DocumentNotFound(NotFound):
    code = "inventory.not_found"
    title = "Not found"

    def __init__(self, what: str) -> None:
        super().__init__(f"No such {what}.")


class SupplierCodeTaken(Conflict):
    code = "inventory.supplier_code_taken"
    title = "Code taken"

    def __init__(self, code: str) -> None:
        super().__init__(f"Another supplier has the code {code!r}.")
