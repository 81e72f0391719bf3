"""core.money: amounts rounded to each currency's ISO 4217 minor units (JPY 0, EUR 2,
KWD 3, capped at the 2 places the money columns store), and the Money type."""

from decimal import ROUND_DOWN, Decimal

import pytest

from core import money
from core.money import Money


def test_minor_units_follow_iso_4217():
    assert [money.minor_units(c) for c in ("JPY", "EUR", "KWD", "usd", "CLF")] == [0, 2, 3, 2, 4]


@pytest.mark.parametrize(
    "amount, currency, expected",
    [
        ("1234.5", "JPY", Decimal("1235")),
        ("1234.49", "JPY", Decimal("1234")),
        ("10.005", "EUR", Decimal("10.01")),
        ("10.004", "EUR", Decimal("10.00")),
        # KWD has three minor units; the money columns keep two, so stored amounts keep two.
        ("1.2345", "KWD", Decimal("1.23")),
    ],
)
def test_quantize_rounds_half_up_to_the_currency(amount, currency, expected):
    rounded = money.quantize(Decimal(amount), currency)
    assert rounded == expected and rounded.as_tuple().exponent == expected.as_tuple().exponent


def test_kwd_keeps_three_places_where_storage_is_not_the_limit():
    assert money.quantize(Decimal("1.2345"), "KWD", stored=False) == Decimal("1.235")
    assert money.places("KWD") == 2 and money.places("KWD", stored=False) == 3


def test_rounding_can_be_chosen():
    assert money.quantize(Decimal("99.9"), "JPY", rounding=ROUND_DOWN) == Decimal("99")


def test_is_exact_refuses_fractions_the_currency_does_not_have():
    assert money.is_exact(Decimal("500"), "JPY") and not money.is_exact(Decimal("500.5"), "JPY")
    assert money.is_exact(Decimal("0.25"), "EUR") and not money.is_exact(Decimal("0.255"), "EUR")
    assert not money.is_exact(Decimal("NaN"), "EUR")


def test_money_rounds_adds_within_one_currency_and_multiplies():
    price = Money(Decimal("1000.4"), "jpy")
    assert (price.amount, price.currency, str(price)) == (Decimal("1000"), "JPY", "1000 JPY")
    assert (price + Money(Decimal("1"), "JPY")).amount == Decimal("1001")
    assert (price * Decimal("0.035")).amount == Decimal("35")  # 35.0 yen: no fraction
    assert (Money(Decimal("10.00"), "EUR") * Decimal("0.035")).amount == Decimal("0.35")
    with pytest.raises(ValueError):
        price - Money(Decimal("1"), "EUR")
