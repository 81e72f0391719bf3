"""Lease transfer services: partial and whole transfers, the remaining days (half-open),
the credit gate on the recipient, operator consent, idempotent acceptance, races with a
cancellation, and the ledger staying exactly as it was (reconciliation clean)."""

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import Conflict, DomainError, InvalidInput
from core.models import AuditEntry
from payments.selectors import escrow_summary
from tests.payments.conftest import make_compliant_institution
from tests.warehouses.conftest import make_member
from tests.warehouses.test_leases import blacklist
from warehouses.errors import CreditGateRefused, InvalidTransition, LeaseNotFound, TransferNotFound
from warehouses.models import CapacityDay, Lease, LeaseTransfer
from warehouses.services import escrow as escrow_services
from warehouses.services import leases, ledger, transfers

pytestmark = pytest.mark.django_db


def reserved_by_day(listing) -> dict[date, int]:
    return dict(CapacityDay.objects.filter(listing=listing).values_list("day", "reserved"))


def reserved_from_leases(listing) -> dict[date, int]:
    """What the ledger must say, recomputed from the leases that hold units."""
    days = dict.fromkeys(reserved_by_day(listing), 0)
    for lease in Lease.objects.filter(listing=listing, status__in=Lease.RESERVING):
        for n in range(lease.days):
            days[lease.start + timedelta(days=n)] += lease.units
    return days


def at(day: date):
    """Patch the clock to noon UTC of `day`."""
    moment = timezone.now().replace(year=day.year, month=day.month, day=day.day, hour=12, minute=0)
    return time_machine.travel(moment, tick=False)


@pytest.fixture
def payer():
    """A compliant payment institution with a CNY/CN corridor (the listing's route)."""
    return make_compliant_institution()


@pytest.fixture
def cn_listing(make_warehouse, make_listing):
    def make(**terms):
        warehouse = make_warehouse(
            name="Yantian DC", country="CN", city="Shenzhen", latitude=Decimal("22.57"), longitude=Decimal("114.27")
        )
        values = {"start_offset": 0, "days": 60, "booking_mode": "instant", "currency": "CNY"} | terms
        return make_listing(warehouse_=warehouse, **values)

    return make


def book(user, listing, units, start, end) -> Lease:
    lease = leases.request_lease(
        actor=user, tenant_id=user.subject.pk, listing_id=listing.pk, units=units, start=start, end=end
    )
    assert lease.status == Lease.Status.APPROVED
    return lease


def test_partial_transfer_of_an_active_lease_splits_it_and_keeps_the_ledger(
    operator, merchant, other_merchant, payer, cn_listing, today
):
    listing = cn_listing(transfer_requires_consent=False)
    lease = book(merchant, listing, 10, today, today + timedelta(days=10))
    escrow_services.pay_lease(actor=merchant, lease_id=lease.pk, institution_id=payer.pk)  # 125.00 CNY
    leases.check_in_lease(actor=operator, lease_id=lease.pk)
    released = escrow_summary(reference=lease.escrow_ref)["released"]
    before = reserved_by_day(listing)
    third_day = today + timedelta(days=3)
    with at(third_day):
        offer = transfers.offer_transfer(
            actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=4
        )
        assert offer.status == LeaseTransfer.Status.OFFERED
        done = transfers.accept_transfer(actor=other_merchant, transfer_id=offer.pk, institution_id=payer.pk)

    assert done.status == LeaseTransfer.Status.COMPLETED
    assert done.effective_from == third_day
    lease.refresh_from_db()
    assert lease.status == Lease.Status.TRANSFERRED
    children = {(c.tenant_id, c.start, c.end): c for c in lease.children.all()}
    past = children[(merchant.subject.pk, today, third_day)]
    kept = children[(merchant.subject.pk, third_day, lease.end)]
    taken = children[(other_merchant.subject.pk, third_day, lease.end)]
    assert len(children) == 3
    assert (past.units, past.status) == (10, Lease.Status.ACTIVE)
    assert (kept.units, kept.status) == (6, Lease.Status.ACTIVE)
    assert (taken.units, taken.status) == (4, Lease.Status.APPROVED)
    assert {c.unit_price for c in children.values()} == {lease.unit_price}
    # 4 units x 7 remaining days x 1.25
    assert done.amount == taken.total_price == Decimal("35.00")
    assert done.recipient_lease_id == taken.pk
    # The transferor's parts stay in the original's escrow.
    assert past.escrow_ref == kept.escrow_ref == f"lease:{lease.pk}"
    # Not one day's reservation moved, and the reconciliation agrees with the leases.
    assert reserved_by_day(listing) == before == reserved_from_leases(listing)
    assert ledger.reconcile(listing_ids=[listing.pk]) == []
    audit = AuditEntry.objects.get(action="lease.transferred", target_id=str(lease.pk))
    assert audit.old["status"] == "active" and audit.new["status"] == "transferred"
    assert {c["id"] for c in audit.new["children"]} == {past.pk, kept.pk, taken.pk}
    assert AuditEntry.objects.filter(action="lease_transfer.completed", target_id=str(done.pk)).exists()
    # A 10-day lease is one release period: check-in released it all to the operator, so
    # nothing is left to move; the recipient still pays its part's 35.00 straight to the
    # transferor (who had paid the operator for those days) and its own escrow counts as paid.
    assert released == Decimal("125.00")
    assert taken.escrow_ref == f"lease:{taken.pk}"
    assert escrow_summary(reference=taken.escrow_ref)["funded"] is True
    assert done.reasons[-1]["code"] == "escrow_partly_released"
    assert "35.00 CNY straight to the transferor" in done.reasons[-1]["message"]
    with at(third_day):
        assert leases.check_in_lease(actor=operator, lease_id=taken.pk).status == Lease.Status.ACTIVE


def test_escrow_follows_a_paid_lease_before_its_start(merchant, other_merchant, payer, cn_listing, today):
    listing = cn_listing(transfer_requires_consent=False)
    lease = book(merchant, listing, 10, today + timedelta(days=1), today + timedelta(days=5))  # 50.00
    escrow_services.pay_lease(actor=merchant, lease_id=lease.pk, institution_id=payer.pk)
    offer = transfers.offer_transfer(
        actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=4
    )
    done = transfers.accept_transfer(actor=other_merchant, transfer_id=offer.pk, institution_id=payer.pk)
    taken = done.recipient_lease
    assert taken.escrow_ref == f"lease:{taken.pk}" != lease.escrow_ref
    theirs = escrow_summary(reference=taken.escrow_ref)
    ours = escrow_summary(reference=lease.escrow_ref)
    assert (theirs["held"], theirs["balance"]) == (Decimal("20.00"), Decimal("20.00"))
    assert (ours["held"], ours["refunded"], ours["balance"]) == (Decimal("50.00"), Decimal("20.00"), Decimal("30.00"))
    assert done.amount == Decimal("20.00")
    assert done.reasons[-1]["code"] == "escrow_followed"
    (kept,) = [c for c in lease.children.all() if c.tenant_id == merchant.subject.pk]
    assert kept.escrow_ref == lease.escrow_ref and kept.total_price == Decimal("30.00")


def test_escrow_moves_only_what_was_not_yet_released(operator, merchant, other_merchant, payer, cn_listing, today):
    listing = cn_listing(transfer_requires_consent=False)
    lease = book(merchant, listing, 10, today, today + timedelta(days=40))  # 500.00
    escrow_services.pay_lease(actor=merchant, lease_id=lease.pk, institution_id=payer.pk)
    leases.check_in_lease(actor=operator, lease_id=lease.pk)  # releases the first 30-day period: 375.00
    with at(today + timedelta(days=3)):
        offer = transfers.offer_transfer(
            actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=4
        )
        done = transfers.accept_transfer(actor=other_merchant, transfer_id=offer.pk, institution_id=payer.pk)
    assert done.amount == Decimal("185.00")  # 4 units x 37 days x 1.25
    theirs = escrow_summary(reference=done.recipient_lease.escrow_ref)
    assert theirs["held"] == Decimal("125.00")  # all that was left in the original's escrow
    assert escrow_summary(reference=lease.escrow_ref)["balance"] == Decimal("0.00")
    assert done.reasons[-1]["code"] == "escrow_partly_released"
    # The recipient pays the whole 185.00: the other 60.00 goes straight to the transferor
    # for days the operator was already paid for, so the transferor gets 185.00 back in all.
    assert "60.00 CNY straight to the transferor" in done.reasons[-1]["message"]


def test_an_unpaid_lease_transfers_without_moving_money(merchant, other_merchant, payer, cn_listing, today):
    listing = cn_listing(transfer_requires_consent=False)
    lease = book(merchant, listing, 10, today + timedelta(days=1), today + timedelta(days=3))
    offer = transfers.offer_transfer(
        actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=3
    )
    taken = transfers.accept_transfer(
        actor=other_merchant, transfer_id=offer.pk, institution_id=payer.pk
    ).recipient_lease
    assert escrow_summary(reference=taken.escrow_ref)["funded"] is False  # payment due, like a new lease
    escrow_services.pay_lease(actor=other_merchant, lease_id=taken.pk, institution_id=payer.pk)
    assert escrow_summary(reference=taken.escrow_ref)["held"] == taken.total_price


def test_an_unusable_payment_institution_is_a_field_error(merchant, other_merchant, cn_listing, today):
    listing = cn_listing(transfer_requires_consent=False)
    lease = book(merchant, listing, 10, today + timedelta(days=1), today + timedelta(days=3))
    offer = transfers.offer_transfer(
        actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=3
    )
    with pytest.raises(InvalidInput) as exc:
        transfers.accept_transfer(actor=other_merchant, transfer_id=offer.pk, institution_id=merchant.subject.pk)
    assert "institution" in exc.value.field_errors
    offer.refresh_from_db()
    assert offer.status == LeaseTransfer.Status.OFFERED


def test_whole_transfer_before_the_start_replaces_the_lease(merchant, other_merchant, payer, cn_listing, today):
    listing = cn_listing(transfer_requires_consent=False)
    start = today + timedelta(days=5)
    lease = book(merchant, listing, 8, start, start + timedelta(days=4))
    before = reserved_by_day(listing)
    offer = transfers.offer_transfer(
        actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=8
    )
    done = transfers.accept_transfer(actor=other_merchant, transfer_id=offer.pk, institution_id=payer.pk)
    lease.refresh_from_db()
    (child,) = lease.children.all()
    assert done.effective_from == start  # max(today, start)
    assert (child.tenant_id, child.units, child.start, child.end) == (other_merchant.subject.pk, 8, start, lease.end)
    assert child.total_price == lease.total_price
    assert reserved_by_day(listing) == before == reserved_from_leases(listing)
    # The recipient can cancel or be checked in like any tenant; the original is closed.
    with pytest.raises(InvalidTransition):
        leases.cancel_lease(actor=merchant, lease_id=lease.pk)
    with pytest.raises(LeaseNotFound):
        leases.cancel_lease(actor=merchant, lease_id=child.pk)


def test_remaining_days_are_half_open(operator, merchant, other_merchant, payer, cn_listing, today):
    listing = cn_listing(transfer_requires_consent=False)
    lease = book(merchant, listing, 5, today, today + timedelta(days=4))
    escrow_services.pay_lease(actor=merchant, lease_id=lease.pk, institution_id=payer.pk)
    leases.check_in_lease(actor=operator, lease_id=lease.pk)
    last_day = lease.end - timedelta(days=1)
    with at(lease.end):  # the end day is not part of the lease: nothing left to transfer
        with pytest.raises(InvalidInput) as exc:
            transfers.offer_transfer(
                actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=1
            )
    assert "lease" in exc.value.field_errors
    with at(last_day):  # the last day itself can still be handed over
        offer = transfers.offer_transfer(
            actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=5
        )
        done = transfers.accept_transfer(actor=other_merchant, transfer_id=offer.pk, institution_id=payer.pk)
    taken = done.recipient_lease
    assert (taken.start, taken.end, taken.days) == (last_day, lease.end, 1)
    assert reserved_by_day(listing)[lease.end] == 0
    assert reserved_by_day(listing) == reserved_from_leases(listing)


def test_an_offer_accepted_after_the_lease_ended_expires(operator, merchant, other_merchant, payer, cn_listing, today):
    listing = cn_listing(transfer_requires_consent=False)
    lease = book(merchant, listing, 5, today, today + timedelta(days=2))
    offer = transfers.offer_transfer(
        actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=1
    )
    with at(lease.end), pytest.raises(InvalidTransition) as exc:
        transfers.accept_transfer(actor=other_merchant, transfer_id=offer.pk, institution_id=payer.pk)
    assert exc.value.code == "transfer_expired"
    offer.refresh_from_db()
    assert offer.status == LeaseTransfer.Status.EXPIRED
    assert Lease.objects.get(pk=lease.pk).status == Lease.Status.APPROVED


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"units": 0}, "units"),
        ({"units": 11}, "units"),
        ({"to_self": True}, "to_subject"),
        ({"to_subject_id": 999_999_999}, "to_subject"),
        ({"held": True}, "lease"),
    ],
)
def test_bad_offers_are_field_errors_and_write_nothing(merchant, other_merchant, cn_listing, today, change, field):
    listing = cn_listing(booking_mode="request" if change.get("held") else "instant")
    lease = leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=listing.pk,
        units=10,
        start=today + timedelta(days=1),
        end=today + timedelta(days=5),
    )
    to = merchant.subject.pk if change.get("to_self") else change.get("to_subject_id", other_merchant.subject.pk)
    before = reserved_by_day(listing)
    with pytest.raises(InvalidInput) as exc:
        transfers.offer_transfer(actor=merchant, lease_id=lease.pk, to_subject_id=to, units=change.get("units", 2))
    assert field in exc.value.field_errors
    assert not LeaseTransfer.objects.exists()
    assert reserved_by_day(listing) == before


def test_only_the_tenant_offers_and_only_the_recipient_accepts(
    operator, merchant, other_merchant, payer, cn_listing, today
):
    listing = cn_listing()
    lease = book(merchant, listing, 4, today + timedelta(days=1), today + timedelta(days=5))
    with pytest.raises(LeaseNotFound):
        transfers.offer_transfer(actor=operator, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=1)
    offer = transfers.offer_transfer(
        actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=1
    )
    stranger = make_member(is_merchant=True, grade="A")
    for who in (merchant, operator, stranger):
        with pytest.raises(TransferNotFound):
            transfers.accept_transfer(actor=who, transfer_id=offer.pk, institution_id=payer.pk)
    # A second, different offer while one is open is a conflict; the same one is a no-op.
    with pytest.raises(Conflict):
        transfers.offer_transfer(actor=merchant, lease_id=lease.pk, to_subject_id=stranger.subject.pk, units=1)
    again = transfers.offer_transfer(
        actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=1
    )
    assert again.pk == offer.pk


def test_a_blacklisted_recipient_is_refused_with_the_reason(merchant, other_merchant, payer, cn_listing, today):
    listing = cn_listing()
    lease = book(merchant, listing, 4, today + timedelta(days=1), today + timedelta(days=5))
    offer = transfers.offer_transfer(
        actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=2
    )
    blacklist(other_merchant.subject)
    with pytest.raises(CreditGateRefused) as exc:
        transfers.accept_transfer(actor=other_merchant, transfer_id=offer.pk, institution_id=payer.pk)
    assert exc.value.reasons[0]["code"] == "blacklisted"
    offer.refresh_from_db()
    assert offer.status == LeaseTransfer.Status.REFUSED
    assert offer.reasons[0]["code"] == "blacklisted"
    lease.refresh_from_db()
    assert (lease.status, lease.children.exists()) == (Lease.Status.APPROVED, False)


def test_a_recipient_below_the_listing_minimum_grade_is_refused(merchant, payer, cn_listing, today):
    listing = cn_listing(min_tenant_grade="B")
    weak = make_member(is_merchant=True, grade="C")
    lease = book(merchant, listing, 4, today + timedelta(days=1), today + timedelta(days=5))
    offer = transfers.offer_transfer(actor=merchant, lease_id=lease.pk, to_subject_id=weak.subject.pk, units=2)
    with pytest.raises(CreditGateRefused) as exc:
        transfers.accept_transfer(actor=weak, transfer_id=offer.pk, institution_id=payer.pk)
    assert [r["code"] for r in exc.value.reasons] == ["grade_below_minimum"]


def test_consent_required_waits_for_the_operator(operator, merchant, other_merchant, payer, cn_listing, today):
    listing = cn_listing()  # transfer_requires_consent defaults to True
    lease = book(merchant, listing, 6, today + timedelta(days=1), today + timedelta(days=5))
    before = reserved_by_day(listing)
    offer = transfers.offer_transfer(
        actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=2
    )
    accepted = transfers.accept_transfer(actor=other_merchant, transfer_id=offer.pk, institution_id=payer.pk)
    assert accepted.status == LeaseTransfer.Status.AWAITING_OPERATOR
    assert Lease.objects.get(pk=lease.pk).status == Lease.Status.APPROVED
    with pytest.raises(TransferNotFound):
        transfers.consent_transfer(actor=merchant, transfer_id=offer.pk)
    with pytest.raises(InvalidInput) as exc:
        transfers.decline_transfer(actor=operator, transfer_id=offer.pk, reason=" ")
    assert "reason" in exc.value.field_errors
    done = transfers.consent_transfer(actor=operator, transfer_id=offer.pk)
    assert done.status == LeaseTransfer.Status.COMPLETED
    assert transfers.consent_transfer(actor=operator, transfer_id=offer.pk).status == LeaseTransfer.Status.COMPLETED
    assert Lease.objects.filter(parent=lease).count() == 2
    assert reserved_by_day(listing) == before == reserved_from_leases(listing)


def test_operator_declines_and_transferor_withdraws(operator, merchant, other_merchant, payer, cn_listing, today):
    listing = cn_listing()
    lease = book(merchant, listing, 6, today + timedelta(days=1), today + timedelta(days=5))
    offer = transfers.offer_transfer(
        actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=2
    )
    transfers.accept_transfer(actor=other_merchant, transfer_id=offer.pk, institution_id=payer.pk)
    declined = transfers.decline_transfer(actor=operator, transfer_id=offer.pk, reason="Hazmat not allowed for them")
    assert declined.status == LeaseTransfer.Status.DECLINED
    assert declined.reasons[-1] == {"code": "operator_declined", "message": "Hazmat not allowed for them"}
    with pytest.raises(InvalidTransition):
        transfers.consent_transfer(actor=operator, transfer_id=offer.pk)
    second = transfers.offer_transfer(
        actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=3
    )
    with pytest.raises(InvalidTransition):
        transfers.withdraw_transfer(actor=other_merchant, transfer_id=second.pk)
    assert transfers.withdraw_transfer(actor=merchant, transfer_id=second.pk).status == LeaseTransfer.Status.WITHDRAWN
    with pytest.raises(InvalidTransition):
        transfers.accept_transfer(actor=other_merchant, transfer_id=second.pk, institution_id=payer.pk)
    assert Lease.objects.get(pk=lease.pk).status == Lease.Status.APPROVED


def test_offers_lapse_after_their_expiry(merchant, other_merchant, payer, cn_listing, today):
    listing = cn_listing()
    lease = book(merchant, listing, 6, today + timedelta(days=5), today + timedelta(days=9))
    offer = transfers.offer_transfer(
        actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=2
    )
    assert offer.expires_at == pytest.approx(timezone.now() + timedelta(hours=72), abs=timedelta(minutes=1))
    assert transfers.expire_transfers() == 0
    with time_machine.travel(timezone.now() + timedelta(hours=73), tick=False):
        assert transfers.expire_transfers() == 1
    offer.refresh_from_db()
    assert offer.status == LeaseTransfer.Status.EXPIRED
    with pytest.raises(InvalidTransition):
        transfers.accept_transfer(actor=other_merchant, transfer_id=offer.pk, institution_id=payer.pk)


def test_accepting_twice_executes_once(merchant, other_merchant, payer, cn_listing, today):
    listing = cn_listing(transfer_requires_consent=False)
    lease = book(merchant, listing, 6, today + timedelta(days=1), today + timedelta(days=5))
    offer = transfers.offer_transfer(
        actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=2
    )
    first = transfers.accept_transfer(actor=other_merchant, transfer_id=offer.pk, institution_id=payer.pk)
    second = transfers.accept_transfer(actor=other_merchant, transfer_id=offer.pk, institution_id=payer.pk)
    assert first.status == second.status == LeaseTransfer.Status.COMPLETED
    assert Lease.objects.filter(parent=lease).count() == 2
    assert Lease.objects.filter(tenant=other_merchant.subject).count() == 1


def _race(*calls):
    """Run the calls at once in threads, each on its own connection; return results."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:  # noqa: BLE001 - the race's loser raises a domain error
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("repeat", range(3))
def test_concurrent_accepts_execute_once(merchant, other_merchant, payer, cn_listing, today, repeat):
    listing = cn_listing(transfer_requires_consent=False)
    lease = book(merchant, listing, 6, today + timedelta(days=1), today + timedelta(days=5))
    offer = transfers.offer_transfer(
        actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=2
    )
    accept = lambda: transfers.accept_transfer(  # noqa: E731
        actor=other_merchant, transfer_id=offer.pk, institution_id=payer.pk
    )
    results = _race(accept, accept, accept)
    assert all(isinstance(r, LeaseTransfer) for r in results), results
    assert Lease.objects.filter(parent=lease).count() == 2
    assert ledger.reconcile(listing_ids=[listing.pk]) == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("repeat", range(3))
def test_cancel_racing_the_execution_leaves_one_consistent_outcome(
    merchant, other_merchant, payer, cn_listing, today, repeat
):
    listing = cn_listing(transfer_requires_consent=False)
    lease = book(merchant, listing, 6, today + timedelta(days=10), today + timedelta(days=15))
    offer = transfers.offer_transfer(
        actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=2
    )
    accepted, cancelled = _race(
        lambda: transfers.accept_transfer(actor=other_merchant, transfer_id=offer.pk, institution_id=payer.pk),
        lambda: leases.cancel_lease(actor=merchant, lease_id=lease.pk),
    )
    lease.refresh_from_db()
    offer.refresh_from_db()
    if lease.status == Lease.Status.TRANSFERRED:  # the transfer won; the cancellation was refused
        assert isinstance(cancelled, InvalidTransition)
        assert offer.status == LeaseTransfer.Status.COMPLETED
        assert Lease.objects.filter(parent=lease).count() == 2
    else:  # the cancellation won; the acceptance found no lease to take over
        assert lease.status == Lease.Status.CANCELLED
        assert isinstance(accepted, InvalidTransition)
        assert offer.status == LeaseTransfer.Status.EXPIRED
        assert not Lease.objects.filter(parent=lease).exists()
    assert ledger.reconcile(listing_ids=[listing.pk]) == []
    assert reserved_by_day(listing) == reserved_from_leases(listing)


def test_a_transferred_part_can_be_transferred_again(operator, merchant, other_merchant, payer, cn_listing, today):
    listing = cn_listing(transfer_requires_consent=False)
    third = make_member(is_merchant=True, grade="B")
    lease = book(merchant, listing, 6, today + timedelta(days=1), today + timedelta(days=5))
    before = reserved_by_day(listing)
    offer = transfers.offer_transfer(
        actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=4
    )
    taken = transfers.accept_transfer(
        actor=other_merchant, transfer_id=offer.pk, institution_id=payer.pk
    ).recipient_lease
    onward = transfers.offer_transfer(actor=other_merchant, lease_id=taken.pk, to_subject_id=third.subject.pk, units=1)
    transfers.accept_transfer(actor=third, transfer_id=onward.pk, institution_id=payer.pk)
    assert Lease.objects.filter(status__in=Lease.RESERVING, listing=listing).count() == 3
    assert reserved_by_day(listing) == before == reserved_from_leases(listing)
    assert ledger.report_drift(listing_ids=[listing.pk]) == []


def test_demo_has_a_completed_transfer_and_a_pending_offer_and_reseeds_cleanly():
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "Lease transfer demo skipped" not in out.getvalue(), out.getvalue()
    call_command("seed_demo", stdout=StringIO())
    statuses = sorted(LeaseTransfer.objects.values_list("status", flat=True))
    assert statuses == [LeaseTransfer.Status.COMPLETED, LeaseTransfer.Status.OFFERED]
    done = LeaseTransfer.objects.get(status=LeaseTransfer.Status.COMPLETED)
    assert done.recipient_lease.tenant.registration_number == "SC-0123456"
    assert done.reasons[-1]["code"] == "escrow_followed"  # the demo lease was paid; the money followed
    assert ledger.reconcile() == []
    # Issue 5, item 10: the demo has leases in every state.
    assert "Lease history demo skipped" not in out.getvalue(), out.getvalue()
    assert set(Lease.objects.values_list("status", flat=True)) == set(Lease.Status.values)
    completed = Lease.objects.get(status=Lease.Status.COMPLETED)
    assert completed.reviews.count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("repeat", range(3))
def test_check_in_racing_the_execution_leaves_one_consistent_outcome(
    operator, merchant, other_merchant, payer, cn_listing, today, repeat
):
    listing = cn_listing(transfer_requires_consent=False)
    lease = book(merchant, listing, 6, today, today + timedelta(days=5))
    escrow_services.pay_lease(actor=merchant, lease_id=lease.pk, institution_id=payer.pk)
    offer = transfers.offer_transfer(
        actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=2
    )
    accepted, checked_in = _race(
        lambda: transfers.accept_transfer(actor=other_merchant, transfer_id=offer.pk, institution_id=payer.pk),
        lambda: leases.check_in_lease(actor=operator, lease_id=lease.pk),
    )
    assert isinstance(accepted, LeaseTransfer), accepted  # a transfer executes on approved or active leases
    lease.refresh_from_db()
    assert lease.status == Lease.Status.TRANSFERRED
    kept = lease.children.get(tenant=merchant.subject)
    if isinstance(checked_in, Lease):  # check-in first: the transferor's continuation stays active
        assert kept.status == Lease.Status.ACTIVE
    else:  # transfer first: the original can no longer be checked in; its children can
        assert isinstance(checked_in, InvalidTransition)
        assert kept.status == Lease.Status.APPROVED
    assert ledger.reconcile(listing_ids=[listing.pk]) == []


def test_a_cancelled_lease_cannot_be_taken_over(merchant, other_merchant, payer, cn_listing, today):
    listing = cn_listing(transfer_requires_consent=False)
    lease = book(merchant, listing, 6, today + timedelta(days=10), today + timedelta(days=15))
    offer = transfers.offer_transfer(
        actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=2
    )
    leases.cancel_lease(actor=merchant, lease_id=lease.pk)
    with pytest.raises(InvalidTransition):
        transfers.accept_transfer(actor=other_merchant, transfer_id=offer.pk, institution_id=payer.pk)
    offer.refresh_from_db()
    assert offer.status == LeaseTransfer.Status.EXPIRED
    assert ledger.reconcile(listing_ids=[listing.pk]) == []


TRANSFER_OPS = st.lists(
    st.tuples(
        st.sampled_from(["transfer", "transfer", "cancel", "advance"]),
        st.integers(0, 50),  # which live lease
        st.integers(1, 12),  # units to hand over (clipped to the lease)
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=TRANSFER_OPS)
def test_random_transfers_never_change_a_days_reservations(ops, operator, merchant, other_merchant, payer, cn_listing):
    """Property: whatever sequence of (partial, chained) transfers, cancellations and days
    passing, the ledger always equals what the reserving leases add up to, and transfers
    alone never change any day's total."""
    from django.db import transaction

    sid = transaction.savepoint()
    try:
        today = timezone.localdate()
        listing = cn_listing(transfer_requires_consent=False)
        for start, units in ((0, 12), (2, 7), (4, 10)):
            book(merchant, listing, units, today + timedelta(days=start), today + timedelta(days=start + 9))
        day = today
        people = [merchant, other_merchant]
        for op, pick, units in ops:
            live = list(Lease.objects.filter(listing=listing, status__in=transfers.TRANSFERABLE).order_by("id"))
            before = reserved_by_day(listing)
            with at(day):
                try:
                    if op == "advance":
                        day += timedelta(days=1 + pick % 3)
                    elif live and op == "cancel":
                        lease = live[pick % len(live)]
                        owner = next(p for p in people if p.subject.pk == lease.tenant_id)
                        leases.cancel_lease(actor=owner, lease_id=lease.pk)
                    elif live:
                        lease = live[pick % len(live)]
                        giver = next(p for p in people if p.subject.pk == lease.tenant_id)
                        taker = other_merchant if giver is merchant else merchant
                        offer = transfers.offer_transfer(
                            actor=giver,
                            lease_id=lease.pk,
                            to_subject_id=taker.subject.pk,
                            units=min(units, lease.units),
                        )
                        transfers.accept_transfer(actor=taker, transfer_id=offer.pk, institution_id=payer.pk)
                        assert reserved_by_day(listing) == before
                except DomainError:
                    pass
            assert reserved_by_day(listing) == reserved_from_leases(listing)
            assert ledger.reconcile(listing_ids=[listing.pk]) == []
    finally:
        transaction.savepoint_rollback(sid)


def test_completing_split_leases_credits_each_tenancy_once(
    operator, merchant, other_merchant, payer, cn_listing, today
):
    from credit.models import CreditEvent

    listing = cn_listing(transfer_requires_consent=False)
    lease = book(merchant, listing, 10, today, today + timedelta(days=10))
    escrow_services.pay_lease(actor=merchant, lease_id=lease.pk, institution_id=payer.pk)
    leases.check_in_lease(actor=operator, lease_id=lease.pk)
    third_day = today + timedelta(days=3)
    with at(third_day):
        offer = transfers.offer_transfer(
            actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=4
        )
        taken = transfers.accept_transfer(
            actor=other_merchant, transfer_id=offer.pk, institution_id=payer.pk
        ).recipient_lease
        leases.check_in_lease(actor=operator, lease_id=taken.pk)
        assert leases.complete_due_leases() == 1  # the transferor's past part, [start, third_day)

    def completed(subject):
        return CreditEvent.objects.filter(subject=subject, kind_id="lease_completed").count()

    assert (completed(merchant.subject), completed(operator.subject)) == (0, 0)  # the tenancy goes on
    with at(lease.end):
        assert leases.complete_due_leases() == 2  # the kept part and the recipient's part
    assert completed(merchant.subject) == 1
    assert completed(other_merchant.subject) == 1
    assert completed(operator.subject) == 2
    assert ledger.reconcile(listing_ids=[listing.pk]) == []


def test_a_lapsed_offer_does_not_block_a_new_one(merchant, other_merchant, cn_listing, today):
    listing = cn_listing()
    lease = book(merchant, listing, 6, today + timedelta(days=5), today + timedelta(days=9))
    first = transfers.offer_transfer(
        actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=2
    )
    with time_machine.travel(timezone.now() + timedelta(hours=73), tick=False):
        second = transfers.offer_transfer(
            actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=3
        )
    first.refresh_from_db()
    assert (first.status, second.status) == (LeaseTransfer.Status.EXPIRED, LeaseTransfer.Status.OFFERED)


def test_a_disputed_lease_cannot_be_transferred_until_decided(merchant, other_merchant, payer, cn_listing, today):
    listing = cn_listing(transfer_requires_consent=False)
    lease = book(merchant, listing, 6, today + timedelta(days=1), today + timedelta(days=5))
    escrow_services.pay_lease(actor=merchant, lease_id=lease.pk, institution_id=payer.pk)
    offer = transfers.offer_transfer(
        actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=2
    )
    escrow_services.open_lease_dispute(actor=merchant, lease_id=lease.pk, reason="Racking damaged on arrival")
    with pytest.raises(Conflict) as exc:
        transfers.accept_transfer(actor=other_merchant, transfer_id=offer.pk, institution_id=payer.pk)
    assert exc.value.code == "escrow_frozen"
    offer.refresh_from_db()
    lease.refresh_from_db()
    assert (offer.status, lease.status) == (LeaseTransfer.Status.OFFERED, Lease.Status.APPROVED)
    assert not lease.children.exists()
    assert escrow_summary(reference=lease.escrow_ref)["balance"] == lease.total_price
