"""Money: a Decimal amount with an ISO 4217 currency, rounded to that currency's own minor
units (JPY 0, EUR 2, KWD 3), never floats.

The money columns store 2 decimal places (numeric(N, 2)): an amount is rounded to the
currency's minor units, but to at most STORED_PLACES, so what is computed is what is
stored and a ledger that balances in memory balances in the database. A currency with 3
minor units (KWD, BHD, ...) is therefore kept to 2 until those columns hold 3
(`places(currency, stored=False)` gives the ISO figure)."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

STORED_PLACES = 2
DEFAULT_MINOR_UNITS = 2
# ISO 4217 currencies whose minor unit is not 2 (list one, the current codes).
MINOR_UNITS = {
    **dict.fromkeys(
        (
            "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
            "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}  # fmt: skip


def minor_units(currency: str) -> int:
    """The currency's ISO 4217 minor units (JPY 0, EUR 2, KWD 3)."""
    return MINOR_UNITS.get((currency or "").upper(), DEFAULT_MINOR_UNITS)


def places(currency: str, *, stored: bool = True) -> int:
    """The decimal places an amount in `currency` keeps: its minor units, capped at what
    the money columns store unless `stored=False`."""
    units = minor_units(currency)
    return min(units, STORED_PLACES) if stored else units


@cache
def _step(n: int) -> Decimal:
    return Decimal(1).scaleb(-n)


def quantize(amount, currency: str, *, rounding=ROUND_HALF_UP, stored: bool = True) -> Decimal:
    """`amount` rounded to the currency's minor units (half up unless told otherwise)."""
    return Decimal(amount).quantize(_step(places(currency, stored=stored)), rounding=rounding)


def is_exact(amount: Decimal, currency: str) -> bool:
    """Whether `amount` has no more decimals than the currency keeps (no yen fractions)."""
    return amount.is_finite() and amount == amount.quantize(_step(places(currency)))


def zero(currency: str) -> Decimal:
    return quantize(0, currency)


@dataclass(frozen=True)
class Money:
    """An amount in one currency, always rounded to its minor units. Adding or subtracting
    another currency is an error; multiplying by a number (a share, a percentage / 100)
    rounds half up again."""

    amount: Decimal
    currency: str

    def __post_init__(self):
        object.__setattr__(self, "currency", self.currency.upper())
        object.__setattr__(self, "amount", quantize(self.amount, self.currency))

    def _same(self, other: "Money") -> None:
        if not isinstance(other, Money) or other.currency != self.currency:
            raise ValueError(f"Cannot combine {self.currency} with {getattr(other, 'currency', other)!r}.")

    def __add__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor) -> "Money":
        return Money(self.amount * Decimal(str(factor)), self.currency)

    __rmul__ = __mul__

    def __str__(self):
        return f"{self.amount} {self.currency}"
