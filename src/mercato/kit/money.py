"""Money as integer minor units plus an ISO 4217 currency. Never a float.

Exponents (JPY 0, EUR 2, KWD 3) come from CLDR via Babel rather than a hand-kept table.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from functools import cache, lru_cache

from babel.numbers import get_currency_precision, list_currencies

from mercato.kit.errors import InvalidInput

# "1e999999999" would otherwise become a billion-digit int; no price has more than 30 digits.
_MAX_MAJOR_DIGITS = 30


class CurrencyMismatch(InvalidInput):
    code = "money.currency_mismatch"


@cache
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def is_currency(code: str) -> bool:
    return code in _known_currencies()


@lru_cache(maxsize=512)
def exponent(currency: str) -> int:
    """Number of minor-unit digits of `currency` (ISO 4217)."""
    if not is_currency(currency):
        raise InvalidInput(f"Unknown currency {currency!r}", code="money.unknown_currency")
    return int(get_currency_precision(currency))


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise TypeError("Money.amount must be an int of minor units")
        exponent(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_decimal(cls, value: Decimal | str, currency: str) -> Money:
        """Convert a major-unit decimal ("19.99") using banker's rounding at the currency's exponent.

        Floats are refused (0.1 is not one tenth); so are strings that are not finite numbers.
        """
        if not isinstance(value, Decimal | str):
            raise TypeError("Money.from_decimal takes a Decimal or a str, never a float")
        digits = exponent(currency)
        try:
            amount = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            amount = Decimal("NaN")
        if not amount.is_finite() or (amount and amount.adjusted() > _MAX_MAJOR_DIGITS):
            raise InvalidInput(f"{value!r} is not a finite decimal amount", code="money.invalid_amount")
        with localcontext() as ctx:
            # Exact at any magnitude: no rounding other than the one to minor units below.
            ctx.prec = max(28, len(amount.as_tuple().digits) + digits + 2)
            minor = amount.scaleb(digits).to_integral_value(rounding=ROUND_HALF_EVEN)
        return cls(int(minor), currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount).scaleb(-exponent(self.currency))

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"Cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: int) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, int):
            raise TypeError("Money can only be multiplied by an int; use allocate() for ratios")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def allocate(self, weights: list[int]) -> list[Money]:
        """Split into parts proportional to `weights`, losing no minor unit (largest remainder)."""
        if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
            raise ValueError("weights must be non-negative with a positive sum")
        total = sum(weights)
        sign = -1 if self.amount < 0 else 1
        base = abs(self.amount)
        shares = [base * w // total for w in weights]
        remainders = sorted(
            range(len(weights)), key=lambda i: (base * weights[i] % total, -i), reverse=True
        )
        for i in remainders[: base - sum(shares)]:
            shares[i] += 1
        return [Money(sign * s, self.currency) for s in shares]

    def as_dict(self) -> dict[str, int | str]:
        return {"amount": self.amount, "currency": self.currency}
