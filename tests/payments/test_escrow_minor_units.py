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


@pytest.fixture
def yen_escrow(db):
    from payments.services import escrow
    from tests.factories import SubjectFactory
    from tests.payments.escrow_helpers import make_escrow_institution

    institution = make_escrow_institution(corridors=(("JPY", "JP"),))
    tenant, operator = SubjectFactory(legal_name="Tenant KK"), SubjectFactory(legal_name="Operator KK")
    escrow.hold_payment(
        actor=None,
        reference="lease:77",
        payer_subject_id=tenant.pk,
        payee_subject_id=operator.pk,
        institution_id=institution.pk,
        amount=Decimal("50"),
        currency="JPY",
        country="JP",
    )
    return tenant, operator


def test_a_dispute_split_in_yen_is_refused_with_a_fraction_and_moves_nothing(yen_escrow):
    from payments.selectors import escrow_summary
    from payments.services import disputes
    from tests.factories import StaffFactory

    tenant, operator = yen_escrow
    dispute = disputes.open_dispute(
        actor=None, reference="lease:77", opener_subject_id=tenant.pk, respondent_subject_id=operator.pk, reason="x"
    )
    with pytest.raises(InvalidInput) as refused:
        disputes.resolve_dispute(
            actor=StaffFactory(), dispute_id=dispute.pk, resolution="split", payee_amount="10.50", reason="split"
        )
    assert refused.value.field_errors == {"payee_amount": ["An amount in JPY is a whole number."]}
    assert escrow_summary(reference="lease:77")["balance"] == Decimal("50")
    resolved = disputes.resolve_dispute(
        actor=StaffFactory(), dispute_id=dispute.pk, resolution="split", payee_amount="10", reason="split"
    )
    assert (resolved.payee_amount, resolved.payer_amount) == (Decimal("10"), Decimal("40"))


def test_a_yen_escrow_holding_a_fraction_from_before_can_still_be_emptied(db):
    """Escrows funded before amounts were rounded to the currency (yen with cents) must not
    be stuck: the whole balance may leave, a part with a fraction may not."""
    from unittest import mock

    from payments.selectors import escrow_summary
    from payments.services import escrow
    from tests.factories import SubjectFactory
    from tests.payments.escrow_helpers import make_escrow_institution

    institution = make_escrow_institution(corridors=(("JPY", "JP"),))
    tenant, operator = SubjectFactory(), SubjectFactory()
    with mock.patch.object(escrow, "require_exact", side_effect=lambda amount, *a, **k: amount):
        escrow.hold_payment(  # as the code before per-currency rounding took it
            actor=None,
            reference="lease:78",
            payer_subject_id=tenant.pk,
            payee_subject_id=operator.pk,
            institution_id=institution.pk,
            amount=Decimal("50.50"),
            currency="JPY",
            country="JP",
        )
    assert escrow_summary(reference="lease:78")["balance"] == Decimal("50.50")
    with pytest.raises(InvalidInput):
        escrow.release_to_payee(actor=None, reference="lease:78", amount=Decimal("10.50"))
    escrow.release_to_payee(actor=None, reference="lease:78", amount=Decimal("50.50"))
    assert escrow_summary(reference="lease:78")["balance"] == Decimal("0")
