"""The escrow ledger under real concurrency on PostgreSQL, without the lease locks that
warehouses takes around it: threads (one database connection each) pay the same new
reference at once, and transfers between two escrows run in opposite directions."""

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection, transaction

from core.errors import DomainError
from payments.models import Escrow, EscrowTransaction, LedgerAccount
from payments.selectors import escrow_summary
from payments.services import escrow
from tests.factories import SubjectFactory
from tests.payments.escrow_helpers import make_escrow_institution, wait_until_blocked

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 8


def outcome(work):
    """What `work` gave, run in this thread on its own connection: its result, a domain
    error's code, or any other error's type and message (so a failing test shows it)."""
    try:
        return work()
    except DomainError as exc:
        return exc.code
    except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
        return f"{type(exc).__name__}: {exc}"
    finally:
        connection.close()


def race(works) -> list:
    barrier = threading.Barrier(len(works))

    def run(work):
        def go():
            barrier.wait()
            return work()

        return outcome(go)

    with ThreadPoolExecutor(len(works)) as pool:
        return list(pool.map(run, works))


def balance(kind: str, subject_id=None) -> Decimal:
    account = LedgerAccount.objects.filter(kind=kind, subject_id=subject_id).first()
    return sum((e.amount for e in account.entries.all()), Decimal("0.00")) if account else Decimal("0.00")


@pytest.fixture
def institution():
    return make_escrow_institution()


@pytest.fixture
def operator():
    return SubjectFactory(legal_name="Operator BV")


def pay(institution, payer, payee, reference, amount):
    return escrow.hold_payment(
        actor=None,
        reference=reference,
        payer_subject_id=payer.pk,
        payee_subject_id=payee.pk,
        institution_id=institution.pk,
        amount=Decimal(amount),
        currency="EUR",
        country="NL",
    )


def test_concurrent_first_payments_for_one_reference_move_money_once(institution, operator):
    # Two payers (say, a double click and a second device) pay a reference never paid
    # before: one payment funds the escrow, every other call gets that payment back.
    payers = [SubjectFactory(legal_name="Tenant A BV"), SubjectFactory(legal_name="Tenant B BV")]
    results = race(
        [lambda payer=payers[i % 2]: pay(institution, payer, operator, "lease:1", "1000.00").pk for i in range(THREADS)]
    )

    holds = list(EscrowTransaction.objects.filter(reference="lease:1", kind="hold"))
    assert len(holds) == 1
    assert results == [holds[0].pk] * THREADS, results
    assert Escrow.objects.filter(reference="lease:1").count() == 1
    summary = escrow_summary(reference="lease:1")
    assert (summary["held"], summary["balance"]) == (Decimal("1000.00"), Decimal("1000.00"))
    paid = sorted(balance("tenant", payer.pk) for payer in payers)
    assert paid == [Decimal("-1000.00"), Decimal("0.00")]  # only the winner paid


def test_opposite_transfers_between_two_escrows_queue_instead_of_deadlocking(institution, operator):
    tenant, recipient = SubjectFactory(legal_name="Tenant BV"), SubjectFactory(legal_name="Recipient BV")
    pay(institution, tenant, operator, "lease:1", "900.00")

    def transfer(source, target, transferor, to):
        return escrow.follow_transfer(
            actor=None,
            from_reference=source,
            to_reference=target,
            transferor_subject_id=transferor.pk,
            recipient_subject_id=to.pk,
            institution_id=institution.pk,
            amount=Decimal("300.00"),
        )

    first = transfer("lease:1", "lease:2", tenant, recipient)
    results = {}

    def start(name, work):
        thread = threading.Thread(target=lambda: results.__setitem__(name, outcome(work)))
        thread.start()
        return thread

    # Hold lease:2 so that both transfers queue: back (lease:2 -> lease:1) first, then a
    # repeat of the first (lease:1 -> lease:2). Locking in call order, the first would hold
    # lease:1 while waiting for lease:2 and the second hold lease:2 while waiting for
    # lease:1: PostgreSQL would kill one of them as a deadlock.
    with transaction.atomic():
        Escrow.objects.select_for_update().get(reference="lease:2")
        back = start("back", lambda: transfer("lease:2", "lease:1", recipient, tenant))
        wait_until_blocked(1)
        again = start("again", lambda: transfer("lease:1", "lease:2", tenant, recipient))
        wait_until_blocked(2)
    back.join(timeout=30)
    again.join(timeout=30)

    # lease:1 was paid into directly: no transfer may pay it again.
    assert results["back"] == "escrow_already_funded", results
    repeated = results["again"]
    assert isinstance(repeated, EscrowTransaction), results
    assert (repeated.pk, repeated.moved, repeated.reimbursed) == (first.pk, Decimal("300.00"), Decimal("0.00"))
    assert EscrowTransaction.objects.filter(kind="transfer").count() == 1
    assert escrow_summary(reference="lease:1")["balance"] == Decimal("600.00")
    assert escrow_summary(reference="lease:2")["balance"] == Decimal("300.00")
    assert (balance("tenant", tenant.pk), balance("tenant", recipient.pk)) == (
        Decimal("-600.00"),
        Decimal("-300.00"),
    )
