"""Money: integer minor units, ISO 4217 exponents from CLDR, lossless allocation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mercato.kit.errors import InvalidInput
from mercato.kit.money import CurrencyMismatch, Money, exponent, is_currency

CURRENCIES = ["EUR", "USD", "JPY", "KWD", "BHD", "GBP", "CLP"]
amounts = st.integers(min_value=-(10**15), max_value=10**15)
currencies = st.sampled_from(CURRENCIES)


def money(currency: str = "EUR") -> st.SearchStrategy[Money]:
    return st.builds(Money, amounts, st.just(currency))


# ---- allocation ---------------------------------------------------------------------------------


@given(
    amount=amounts,
    currency=currencies,
    weights=st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=12).filter(lambda w: sum(w) > 0),
)
def test_allocate_never_loses_or_creates_a_minor_unit(amount: int, currency: str, weights: list[int]) -> None:
    parts = Money(amount, currency).allocate(weights)
    assert len(parts) == len(weights)
    assert sum(p.amount for p in parts) == amount
    assert all(p.currency == currency for p in parts)
    total = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        # Each part is its exact share rounded up or down by less than one minor unit.
        assert abs(part.amount * total - amount * weight) < total
        if weight == 0:
            assert part.amount == 0
        # Every part has the sign of the whole (or is zero).
        assert part.amount * amount >= 0


@given(amount=amounts, n=st.integers(min_value=1, max_value=50))
def test_allocate_equal_weights_parts_differ_by_at_most_one(amount: int, n: int) -> None:
    parts = [p.amount for p in Money(amount, "EUR").allocate([1] * n)]
    assert sum(parts) == amount
    assert max(parts) - min(parts) <= 1


def test_allocate_known_split() -> None:
    assert [p.amount for p in Money(100, "EUR").allocate([1, 1, 1])] == [34, 33, 33]
    assert [p.amount for p in Money(-100, "EUR").allocate([1, 1, 1])] == [-34, -33, -33]
    assert [p.amount for p in Money(5, "JPY").allocate([3, 7])] == [2, 3]  # 1.5 / 3.5: tie goes to the first


@pytest.mark.parametrize("weights", [[], [0, 0], [1, -1], [-1]])
def test_allocate_rejects_bad_weights(weights: list[int]) -> None:
    with pytest.raises(ValueError, match="weights"):
        Money(100, "EUR").allocate(weights)


# ---- arithmetic ---------------------------------------------------------------------------------


@given(a=money(), b=money(), c=money())
def test_addition_is_associative_and_commutative(a: Money, b: Money, c: Money) -> None:
    assert (a + b) + c == a + (b + c)
    assert a + b == b + a
    assert (a + b).amount == a.amount + b.amount


@given(a=money(), b=money(), c=money())
def test_subtraction_inverts_addition(a: Money, b: Money, c: Money) -> None:
    assert (a + b) - b == a
    assert (a - b) - c == a - (b + c)
    assert a - a == Money.zero("EUR")
    assert -(a - b) == b - a


@given(a=money("EUR"), b=money("USD"))
def test_mixing_currencies_raises(a: Money, b: Money) -> None:
    with pytest.raises(CurrencyMismatch) as info:
        _ = a + b
    assert info.value.code == "money.currency_mismatch"
    assert isinstance(info.value, InvalidInput)
    with pytest.raises(CurrencyMismatch):
        _ = a - b
    with pytest.raises(CurrencyMismatch):
        _ = a < b


def test_multiplication_takes_only_ints() -> None:
    assert Money(250, "EUR") * 3 == Money(750, "EUR")
    assert 3 * Money(250, "EUR") == Money(750, "EUR")
    with pytest.raises(TypeError):
        _ = Money(250, "EUR") * 1.5  # type: ignore[operator]
    with pytest.raises(TypeError):
        _ = Money(250, "EUR") * True


# ---- currencies and exponents -------------------------------------------------------------------


@pytest.mark.parametrize(("currency", "digits"), [("JPY", 0), ("EUR", 2), ("USD", 2), ("KWD", 3), ("BHD", 3)])
def test_exponent_comes_from_the_library(currency: str, digits: int) -> None:
    assert exponent(currency) == digits
    assert Money(1, currency).to_decimal() == Decimal(1).scaleb(-digits)


@pytest.mark.parametrize("code", ["XXQ", "eur", "EURO", "", "123"])
def test_unknown_currency_is_rejected(code: str) -> None:
    assert not is_currency(code)
    with pytest.raises(InvalidInput) as info:
        Money(100, code)
    assert info.value.code == "money.unknown_currency"
    with pytest.raises(InvalidInput):
        Money.from_decimal("1.00", code)


# ---- from_decimal -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        ("19.99", "EUR", 1999),
        ("0.125", "EUR", 12),  # half to even: down
        ("0.135", "EUR", 14),  # half to even: up
        ("0.145", "EUR", 14),
        ("-0.125", "EUR", -12),
        ("-0.135", "EUR", -14),
        ("0.1251", "EUR", 13),  # above half: always up
        ("2.5", "JPY", 2),
        ("3.5", "JPY", 4),
        ("1.0005", "KWD", 1000),
        ("1.0015", "KWD", 1002),
        ("7", "BHD", 7000),
        (Decimal("10.005"), "USD", 1000),
        ("123456789012345678901234567.89", "EUR", 12345678901234567890123456789),
    ],
)
def test_from_decimal_uses_bankers_rounding(value: str | Decimal, currency: str, minor: int) -> None:
    assert Money.from_decimal(value, currency) == Money(minor, currency)


@given(amount=amounts, currency=currencies)
def test_decimal_round_trip(amount: int, currency: str) -> None:
    original = Money(amount, currency)
    assert Money.from_decimal(original.to_decimal(), currency) == original
    assert Money.from_decimal(str(original.to_decimal()), currency) == original


@pytest.mark.parametrize("value", [0.1, 19.99, 1.0, float("nan")])
def test_from_decimal_rejects_floats(value: float) -> None:
    with pytest.raises(TypeError, match="float"):
        Money.from_decimal(value, "EUR")  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["abc", "", "NaN", "Infinity", "-inf", "1e999999999", "1,50"])
def test_from_decimal_rejects_non_numbers(value: str) -> None:
    with pytest.raises(InvalidInput) as info:
        Money.from_decimal(value, "EUR")
    assert info.value.code == "money.invalid_amount"


@pytest.mark.parametrize("amount", [1.5, 10.0, "100", Decimal(1), True, None])
def test_amount_must_be_an_int(amount: object) -> None:
    with pytest.raises(TypeError):
        Money(amount, "EUR")  # type: ignore[arg-type]


def test_as_dict() -> None:
    assert Money(1999, "EUR").as_dict() == {"amount": 1999, "currency": "EUR"}
