"""Promotion errors with stable codes (the app maps each kind to its HTTP status)."""

from __future__ import annotations

from mercato.kit.errors import Conflict, FieldError, InvalidInput, NotFound, RateLimited


class PromotionNotFound(NotFound):
    code = "promotion.not_found"
    title = "Promotion not found"

    def __init__(self) -> None:
        super().__init__("No such promotion.")


class CodeNotFound(NotFound):
    code = "promotion.code_not_found"
    title = "Code not found"

    def __init__(self) -> None:
        super().__init__("This promotion has no such code.")


class InvalidPromotion(InvalidInput):
    """Input that names things that do not exist or do not fit together (field errors say which)."""

    code = "promotion.invalid"
    title = "Invalid promotion"

    def __init__(self, errors: list[FieldError], message: str = "Some fields are not valid.") -> None:
        super().__init__(message, errors=errors)


class CodeTaken(Conflict):
    code = "promotion.code_taken"
    title = "Code taken"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("Some codes already exist (codes are unique across all promotions).", errors=errors)


class NotACoupon(Conflict):
    code = "promotion.not_a_coupon"
    title = "Not a coupon promotion"

    def __init__(self) -> None:
        super().__init__("Automatic promotions have no codes; make it a coupon promotion first.")


class PromotionInUse(Conflict):
    code = "promotion.in_use"
    title = "Promotion in use"

    def __init__(self) -> None:
        super().__init__("Orders used this promotion; deactivate it instead of deleting it.")


class UsageLimitReached(Conflict):
    """Raised by `redeem` when a limit would be exceeded: the checkout transaction must roll back."""

    code = "promotion.usage_limit_reached"
    title = "Promotion no longer available"

    def __init__(self, message: str, *, errors: list[FieldError] | None = None) -> None:
        super().__init__(message, errors=errors)


class FirstOrderTaken(Conflict):
    """Raised by `redeem` when a first-order promotion applied but another order of the customer
    was placed meanwhile (at the same moment in another channel): the checkout rolls back."""

    code = "promotion.not_eligible"
    title = "Promotion no longer available"

    def __init__(self, label: str) -> None:
        super().__init__(f"{label!r} is for a first order, and another order of yours was placed meanwhile.")


class AlreadyRedeemed(Conflict):
    code = "promotion.already_redeemed"
    title = "Promotions already counted"

    def __init__(self) -> None:
        super().__init__("This order's promotions were counted already.")


class CouponRejected(InvalidInput):
    """A coupon code that does not apply to the cart; `code` is the reason (`promotion.expired` ...)."""

    title = "Coupon not applicable"

    def __init__(self, reason: str, message: str, *, coupon: str) -> None:
        super().__init__(message, code=reason, errors=[FieldError("code", reason, message)])
        self.coupon = coupon


class CouponRateLimited(RateLimited):
    code = "promotion.rate_limited"
    title = "Too many coupon attempts"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("Too many codes that did not work; wait before trying another.",
                         code=self.code, retry_after_s=retry_after_s)
