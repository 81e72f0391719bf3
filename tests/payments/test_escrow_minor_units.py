"""Escrow amounts follow the currency's minor units: the platform fee on a yen release is
whole yen, and a yen amount with a fraction is refused before anything moves."""

from decimal import Decimal

import pytest

from core.errors import InvalidInput
from payments.services.ledger import platform_fee, require_exact


def test_the_platform_fee_is_rounded_to_the_currency(settings):
    settings.ENTREPOT = {**settings.ENTREPOT, "ESCROW_PLATFORM_FEE_PERCENT": "3"}
    assert platform_fee(Decimal("1050"), "JPY") == Decimal("32")  # 31.5 yen, half up
    assert platform_fee(Decimal("10.50"), "EUR") == Decimal("0.32")  # 0.315 euro


def test_an_amount_finer_than_the_currency_is_refused():
    assert require_exact(Decimal("1000"), "JPY") == Decimal("1000")
    with pytest.raises(InvalidInput) as refused:
        require_exact(Decimal("1000.50"), "JPY")
    assert refused.value.field_errors == {"amount": ["An amount in JPY is a whole number."]}
    assert require_exact(Decimal("10.25"), "EUR") == Decimal("10.25")
