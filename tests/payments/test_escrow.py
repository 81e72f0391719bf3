"""Escrow ledger: balanced transactions (checked by the database too), append-only entries,
payment routes, transfers, freezing and dispute resolution, at the payments level."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.utils import InternalError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import DomainError, InvalidInput
from core.models import AuditEntry
from payments import errors
from payments.models import Dispute, EscrowTransaction, LedgerAccount, LedgerEntry
from payments.selectors import escrow_summary, payment_route_problems
from payments.services import disputes, escrow
from tests.factories import StaffFactory, SubjectFactory
from tests.payments.escrow_helpers import make_escrow_institution

pytestmark = pytest.mark.django_db


def check_deferred():
    """Run the deferred ledger checks now (a test's transaction never commits)."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@pytest.fixture
def institution():
    return make_escrow_institution()


@pytest.fixture
def parties():
    return SubjectFactory(legal_name="Tenant BV"), SubjectFactory(legal_name="Operator BV")


def pay(institution, parties, reference="lease:1", amount="1000.00"):
    tenant, operator = parties
    return escrow.hold_payment(
        actor=None,
        reference=reference,
        payer_subject_id=tenant.pk,
        payee_subject_id=operator.pk,
        institution_id=institution.pk,
        amount=Decimal(amount),
        currency="EUR",
        country="NL",
    )


def balances() -> dict[tuple[str, int | None, str], Decimal]:
    result = {}
    for account in LedgerAccount.objects.all():
        total = sum((e.amount for e in account.entries.all()), Decimal(0))
        result[(account.kind, account.subject_id, account.reference)] = total
    return result


def test_hold_moves_the_price_into_escrow_and_every_transaction_balances(institution, parties):
    tx = pay(institution, parties)
    check_deferred()
    assert tx.kind == "hold" and tx.institution_id == institution.pk
    summary = escrow_summary(reference="lease:1")
    assert summary["status"] == "funded"
    assert summary["held"] == summary["balance"] == Decimal("1000.00")
    tenant, _ = parties
    assert balances()[("tenant", tenant.pk, "")] == Decimal("-1000.00")
    for t in EscrowTransaction.objects.all():
        assert sum(e.amount for e in t.entries.all()) == 0


def test_paying_twice_moves_money_once(institution, parties):
    first = pay(institution, parties)
    again = pay(institution, parties)
    assert again.pk == first.pk
    assert escrow_summary(reference="lease:1")["held"] == Decimal("1000.00")


def test_release_withholds_the_platform_fee(institution, parties, settings):
    settings.ENTREPOT = {**settings.ENTREPOT, "ESCROW_PLATFORM_FEE_PERCENT": "3"}
    pay(institution, parties)
    escrow.release_to_payee(actor=None, reference="lease:1", amount=Decimal("333.33"), memo="period 1")
    check_deferred()
    _, operator = parties
    b = balances()
    assert b[("operator", operator.pk, "")] == Decimal("323.33")  # 333.33 - 10.00 (3 %, half up)
    assert b[("platform_fee", None, "")] == Decimal("10.00")
    summary = escrow_summary(reference="lease:1")
    assert summary["status"] == "partially released"
    assert (summary["released"], summary["balance"]) == (Decimal("333.33"), Decimal("666.67"))


def test_pay_outs_are_audited_with_the_totals_before_and_after(institution, parties):
    pay(institution, parties, amount="1000.00")
    escrow.release_to_payee(actor=None, reference="lease:1", amount="333.33", memo="period 1")
    escrow.refund_to_payer(actor=None, reference="lease:1", amount="66.7", memo="goodwill")
    released = AuditEntry.objects.get(action="escrow.released")
    assert (released.old, released.new, released.reason) == (
        {"held": "1000.00", "released": "0.00", "refunded": "0.00", "balance": "1000.00", "frozen": False},
        {"held": "1000.00", "released": "333.33", "refunded": "0.00", "balance": "666.67", "frozen": False},
        "period 1",
    )
    refunded = AuditEntry.objects.get(action="escrow.refunded")
    assert refunded.old == released.new
    summary = escrow_summary(reference="lease:1")
    assert refunded.new == {
        "held": "1000.00",
        "released": "333.33",
        "refunded": "66.70",
        "balance": "599.97",
        "frozen": False,
    }
    assert refunded.new == {k: str(summary[k]) for k in ("held", "released", "refunded", "balance")} | {"frozen": False}


def test_cannot_release_or_refund_more_than_the_balance(institution, parties):
    pay(institution, parties, amount="100.00")
    with pytest.raises(errors.InsufficientEscrow):
        escrow.release_to_payee(actor=None, reference="lease:1", amount=Decimal("100.01"))
    escrow.refund_to_payer(actor=None, reference="lease:1", amount=Decimal("100.00"))
    assert escrow_summary(reference="lease:1")["status"] == "refunded"
    with pytest.raises(errors.InsufficientEscrow):
        escrow.refund_to_payer(actor=None, reference="lease:1", amount=Decimal("0.01"))


def test_database_rejects_an_unbalanced_transaction(institution, parties):
    pay(institution, parties)
    tenant_account = LedgerAccount.objects.get(kind="tenant")
    with pytest.raises((IntegrityError, InternalError), match="does not balance"):
        with transaction.atomic():
            tx = EscrowTransaction.objects.create(reference="lease:1", kind="hold")
            LedgerEntry.objects.create(transaction=tx, account=tenant_account, amount=Decimal("-5.00"))
            check_deferred()


def test_database_rejects_a_negative_escrow_balance(institution, parties):
    pay(institution, parties, amount="10.00")
    escrow_account = LedgerAccount.objects.get(kind="escrow")
    tenant_account = LedgerAccount.objects.get(kind="tenant")
    with pytest.raises((IntegrityError, InternalError), match="negative"):
        with transaction.atomic():
            tx = EscrowTransaction.objects.create(reference="lease:1", kind="refund")
            LedgerEntry.objects.create(transaction=tx, account=escrow_account, amount=Decimal("-10.01"))
            LedgerEntry.objects.create(transaction=tx, account=tenant_account, amount=Decimal("10.01"))
            check_deferred()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE payments_ledgerentry SET amount = 1",
        "DELETE FROM payments_ledgerentry",
        "UPDATE payments_escrowtransaction SET memo = 'x'",
    ],
)
def test_ledger_is_append_only(institution, parties, statement):
    pay(institution, parties)
    with pytest.raises((IntegrityError, InternalError), match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)


def test_route_problems_name_the_reasons(institution, parties):
    assert payment_route_problems(institution_id=institution.pk, currency="EUR", country="NL") == []
    codes = [p["code"] for p in payment_route_problems(institution_id=institution.pk, currency="EUR", country="DE")]
    assert codes == ["no_corridor"]
    with pytest.raises(errors.PaymentRouteRefused) as refused:
        escrow.hold_payment(
            actor=None,
            reference="lease:9",
            payer_subject_id=parties[0].pk,
            payee_subject_id=parties[1].pk,
            institution_id=institution.pk,
            amount=Decimal("5.00"),
            currency="USD",
            country="NL",
        )
    assert "no USD corridor for NL" in refused.value.field_errors["institution"][0]
    assert not EscrowTransaction.objects.exists()


def test_follow_transfer_moves_money_in_one_balanced_transaction(institution, parties):
    tenant, operator = parties
    recipient = SubjectFactory(legal_name="Recipient BV")
    pay(institution, parties, amount="900.00")
    tx = escrow.follow_transfer(
        actor=None,
        from_reference="lease:1",
        to_reference="lease:2",
        transferor_subject_id=tenant.pk,
        recipient_subject_id=recipient.pk,
        institution_id=institution.pk,
        amount=Decimal("300.00"),
    )
    check_deferred()
    assert tx.kind == "transfer" and tx.entries.count() == 4
    assert sum(e.amount for e in tx.entries.all()) == 0
    old, new = escrow_summary(reference="lease:1"), escrow_summary(reference="lease:2")
    assert (old["balance"], old["refunded"]) == (Decimal("600.00"), Decimal("300.00"))
    assert (new["status"], new["balance"]) == ("funded", Decimal("300.00"))
    b = balances()
    assert b[("tenant", tenant.pk, "")] == Decimal("-600.00")
    assert b[("tenant", recipient.pk, "")] == Decimal("-300.00")
    # Repeating it moves nothing more.
    again = escrow.follow_transfer(
        actor=None,
        from_reference="lease:1",
        to_reference="lease:2",
        transferor_subject_id=tenant.pk,
        recipient_subject_id=recipient.pk,
        institution_id=institution.pk,
        amount=Decimal("300.00"),
    )
    assert again.pk == tx.pk
    assert escrow_summary(reference="lease:1")["balance"] == Decimal("600.00")


def test_follow_transfer_of_an_unpaid_lease_does_nothing_and_caps_at_the_balance(institution, parties):
    tenant, _ = parties
    recipient = SubjectFactory()
    args = {
        "actor": None,
        "transferor_subject_id": tenant.pk,
        "recipient_subject_id": recipient.pk,
        "institution_id": None,
    }
    assert escrow.follow_transfer(from_reference="lease:1", to_reference="lease:2", amount="10.00", **args) is None
    pay(institution, parties, amount="50.00")
    escrow.release_to_payee(actor=None, reference="lease:1", amount=Decimal("20.00"))
    tx = escrow.follow_transfer(from_reference="lease:1", to_reference="lease:3", amount="100.00", **args)
    assert tx.institution_id == institution.pk  # the original payment's institution
    assert escrow_summary(reference="lease:3")["balance"] == Decimal("30.00")
    assert escrow_summary(reference="lease:1")["balance"] == Decimal("0.00")
    # The recipient pays all 100.00: the 30.00 left moves into its escrow (refunded to the
    # transferor) and 70.00, already released to the payee, goes straight to the transferor.
    assert (tx.moved, tx.reimbursed) == (Decimal("30.00"), Decimal("70.00"))
    b = balances()
    assert b[("tenant", recipient.pk, "")] == Decimal("-100.00")
    assert b[("tenant", tenant.pk, "")] == Decimal("50.00")  # paid 50.00, got 100.00 back
    # Nothing left at all: the new escrow still exists and counts as paid (released).
    empty = escrow.follow_transfer(from_reference="lease:1", to_reference="lease:4", amount="10.00", **args)
    assert (empty.moved, empty.reimbursed) == (Decimal("0.00"), Decimal("10.00"))
    summary = escrow_summary(reference="lease:4")
    assert (summary["funded"], summary["status"], summary["balance"]) == (True, "released", Decimal("0.00"))


def test_repeating_a_transfer_returns_what_it_moved_and_a_directly_paid_escrow_takes_none(institution, parties):
    tenant, _ = parties
    recipient = SubjectFactory()
    args = {
        "actor": None,
        "from_reference": "lease:1",
        "transferor_subject_id": tenant.pk,
        "recipient_subject_id": recipient.pk,
        "institution_id": None,
        "amount": "100.00",
    }
    pay(institution, parties, amount="50.00")
    escrow.release_to_payee(actor=None, reference="lease:1", amount=Decimal("20.00"))
    first = escrow.follow_transfer(to_reference="lease:3", **args)
    again = escrow.follow_transfer(to_reference="lease:3", **args)
    assert again.pk == first.pk
    assert (again.moved, again.reimbursed) == (first.moved, first.reimbursed) == (Decimal("30.00"), Decimal("70.00"))
    assert balances()[("tenant", recipient.pk, "")] == Decimal("-100.00")  # paid once
    # An escrow its payer paid into directly is not a transfer's to fund: refused, and
    # nothing moves.
    pay(institution, parties, reference="lease:5", amount="10.00")
    with pytest.raises(DomainError) as refused:
        escrow.follow_transfer(to_reference="lease:5", **args)
    assert refused.value.code == "escrow_already_funded"
    assert escrow_summary(reference="lease:5")["balance"] == Decimal("10.00")
    assert balances()[("tenant", recipient.pk, "")] == Decimal("-100.00")


def test_dispute_freezes_and_staff_resolve_with_a_split(institution, parties):
    tenant, operator = parties
    pay(institution, parties, amount="100.00")
    dispute = disputes.open_dispute(
        actor=None,
        reference="lease:1",
        opener_subject_id=tenant.pk,
        respondent_subject_id=operator.pk,
        reason="Goods damaged",
    )
    assert escrow_summary(reference="lease:1")["status"] == "frozen"
    with pytest.raises(errors.EscrowFrozen):
        escrow.release_to_payee(actor=None, reference="lease:1", amount=Decimal("10.00"))
    with pytest.raises(errors.DisputeAlreadyOpen):
        disputes.open_dispute(
            actor=None,
            reference="lease:1",
            opener_subject_id=operator.pk,
            respondent_subject_id=tenant.pk,
            reason="again",
        )
    with pytest.raises(errors.StaffOnly):
        disputes.resolve_dispute(actor=None, dispute_id=dispute.pk, resolution="payer", reason="x")
    with pytest.raises(InvalidInput):
        disputes.resolve_dispute(
            actor=StaffFactory(), dispute_id=dispute.pk, resolution="split", payee_amount="100.01", reason="too much"
        )
    resolved = disputes.resolve_dispute(
        actor=StaffFactory(),
        dispute_id=dispute.pk,
        resolution="split",
        payee_amount="40.00",
        reason="Half the goods were fine",
    )
    check_deferred()
    assert (resolved.status, resolved.payee_amount, resolved.payer_amount) == (
        "resolved",
        Decimal("40.00"),
        Decimal("60.00"),
    )
    summary = escrow_summary(reference="lease:1")
    assert (summary["frozen"], summary["balance"], summary["released"], summary["refunded"]) == (
        False,
        Decimal("0.00"),
        Decimal("40.00"),
        Decimal("60.00"),
    )
    assert Dispute.objects.get().decision_reason == "Half the goods were fine"


# --- Property: any sequence of holds, releases, refunds and transfers keeps the books -------

OPS = st.lists(
    st.tuples(
        st.sampled_from(["hold", "release", "refund", "transfer", "freeze", "unfreeze"]),
        st.integers(min_value=0, max_value=3),  # which escrow
        st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500.00"), places=2),
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_any_sequence_keeps_every_transaction_balanced_and_escrow_non_negative(ops, institution, parties):
    tenant, operator = parties
    sid = transaction.savepoint()  # each example starts from the same state
    try:
        for op, index, amount in ops:
            reference = f"lease:{index}"
            try:
                if op == "hold":
                    pay(institution, parties, reference=reference, amount=str(amount))
                elif op == "release":
                    escrow.release_to_payee(actor=None, reference=reference, amount=amount)
                elif op == "refund":
                    escrow.refund_to_payer(actor=None, reference=reference, amount=amount)
                elif op == "transfer":
                    escrow.follow_transfer(
                        actor=None,
                        from_reference=reference,
                        to_reference=f"lease:{index + 10}",
                        transferor_subject_id=tenant.pk,
                        recipient_subject_id=operator.pk,
                        institution_id=institution.pk,
                        amount=amount,
                    )
                elif op == "freeze":
                    escrow.freeze(actor=None, reference=reference, reason="property")
                else:
                    escrow.unfreeze(actor=None, reference=reference)
            except DomainError:
                pass
            check_deferred()  # the database's own checks agree at every step
        for tx in EscrowTransaction.objects.prefetch_related("entries"):
            assert sum(e.amount for e in tx.entries.all()) == 0
        for account in LedgerAccount.objects.filter(kind="escrow"):
            assert sum((e.amount for e in account.entries.all()), Decimal(0)) >= 0
        assert sum(LedgerEntry.objects.values_list("amount", flat=True), Decimal(0)) == 0
    finally:
        transaction.savepoint_rollback(sid)


def test_admin_shows_the_ledger_read_only(client, institution, parties):
    tx = pay(institution, parties)
    client.force_login(StaffFactory(is_superuser=True))
    for url in (
        "/admin/payments/escrowtransaction/",
        f"/admin/payments/escrowtransaction/{tx.pk}/change/",
        "/admin/payments/ledgeraccount/",
        "/admin/payments/escrow/",
        "/admin/payments/dispute/",
    ):
        assert client.get(url).status_code == 200, url
    assert client.get("/admin/payments/escrowtransaction/add/").status_code == 403
    page = client.get(f"/admin/payments/escrowtransaction/{tx.pk}/change/").content.decode()
    assert "1000.00" in page and 'name="_save"' not in page


def test_an_open_dispute_cannot_be_bypassed_by_unfreezing(institution, parties):
    tenant, operator = parties
    pay(institution, parties, amount="100.00")
    disputes.open_dispute(
        actor=None, reference="lease:1", opener_subject_id=tenant.pk, respondent_subject_id=operator.pk, reason="x"
    )
    with pytest.raises(errors.DisputeAlreadyOpen):
        escrow.unfreeze(actor=None, reference="lease:1")
    assert escrow_summary(reference="lease:1")["frozen"] is True
