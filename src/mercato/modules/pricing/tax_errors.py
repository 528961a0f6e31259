"""Tax errors with stable codes (the app maps each kind to its HTTP status)."""

from __future__ import annotations

from mercato.kit.errors import Conflict, FieldError, InvalidInput, NotFound


class TaxClassNotFound(NotFound):
    code = "tax.class_not_found"
    title = "Tax class not found"

    def __init__(self) -> None:
        super().__init__("No such tax class.")


class TaxZoneNotFound(NotFound):
    code = "tax.zone_not_found"
    title = "Tax zone not found"

    def __init__(self) -> None:
        super().__init__("No such tax zone.")


class TaxClassCodeTaken(Conflict):
    code = "tax.class_code_taken"
    title = "Code taken"

    def __init__(self, code: str) -> None:
        super().__init__(f"Another tax class has the code {code!r}.")


class TaxZoneCodeTaken(Conflict):
    code = "tax.zone_code_taken"
    title = "Code taken"

    def __init__(self, code: str) -> None:
        super().__init__(f"Another tax zone has the code {code!r}.")


class TaxZoneAreaTaken(Conflict):
    code = "tax.zone_area_taken"
    title = "Area already covered"

    def __init__(self) -> None:
        super().__init__("Another tax zone has the same country, region and postcode prefix; edit its rates instead.")


class TaxClassInUse(Conflict):
    code = "tax.class_in_use"
    title = "Tax class in use"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)


class InvalidTax(InvalidInput):
    """Input that names things that do not exist or do not fit together (field errors say which)."""

    code = "tax.invalid"
    title = "Invalid tax data"

    def __init__(self, errors: list[FieldError], message: str = "Some fields are not valid.") -> None:
        super().__init__(message, errors=errors)
