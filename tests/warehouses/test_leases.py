"""Lease services: date semantics, capacity boundaries, holds, the credit gate, the
lifecycle and cancellation policy, and the ledger's database guarantees."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import InvalidInput, NotFound
from core.models import AuditEntry
from credit.models import BlacklistEntry, CreditEvent
from tests.factories import RegulatorFactory
from tests.payments.escrow_helpers import fund_lease
from warehouses.errors import CapacityBelowReserved, CreditGateRefused, InvalidTransition, NotEnoughCapacity
from warehouses.models import CapacityDay, Lease
from warehouses.services import leases, ledger
from warehouses.services import listings as listing_services

pytestmark = pytest.mark.django_db


def reserved_by_day(listing) -> dict[date, int]:
    return dict(CapacityDay.objects.filter(listing=listing).values_list("day", "reserved"))


def book(merchant, listing, units, start, end, **kw):
    return leases.request_lease(
        actor=merchant, tenant_id=merchant.subject.pk, listing_id=listing.pk, units=units, start=start, end=end, **kw
    )


def blacklist(subject):
    return BlacklistEntry.objects.create(
        subject=subject,
        category="fraud",
        legal_basis="Test Act art. 1",
        decision_reference="DEC-1",
        description="Fraud",
        severity="serious",
        starts_on=timezone.localdate() - timedelta(days=1),
        publication_ends_on=timezone.localdate() + timedelta(days=365),
        decided_by=RegulatorFactory(),
    )


# --- Date semantics (half-open ranges) ---------------------------------------------------


def test_a_lease_ending_on_a_day_leaves_that_day_free(merchant, other_merchant, listing):
    d = listing.available_from
    first = book(merchant, listing, 100, d, d + timedelta(days=3))
    # The first lease ends on d+3 (exclusive), so the whole capacity is free that day.
    second = book(other_merchant, listing, 100, d + timedelta(days=3), d + timedelta(days=5))
    reserved = reserved_by_day(listing)
    assert [reserved[d + timedelta(days=n)] for n in range(6)] == [100, 100, 100, 100, 100, 0]
    assert first.days == 3 and second.days == 2
    with pytest.raises(NotEnoughCapacity):
        book(other_merchant, listing, 1, d + timedelta(days=2), d + timedelta(days=4))


def test_price_is_units_times_days_times_unit_price(merchant, listing):
    d = listing.available_from
    lease = book(merchant, listing, 8, d, d + timedelta(days=10))
    assert lease.total_price == Decimal("100.00")  # 8 x 10 x 1.25
    assert lease.currency == "EUR"


def test_window_edges_are_half_open(merchant, listing):
    last_day = listing.available_until - timedelta(days=1)
    assert book(merchant, listing, 1, last_day, listing.available_until).status == Lease.Status.HELD
    with pytest.raises(InvalidInput) as exc:
        book(merchant, listing, 1, last_day, listing.available_until + timedelta(days=1))
    assert "start" in exc.value.field_errors
    with pytest.raises(InvalidInput):
        book(merchant, listing, 1, listing.available_from - timedelta(days=1), listing.available_from + timedelta(1))


@pytest.mark.parametrize(
    ("units", "start_days", "end_days", "field"),
    [(5, 3, 3, "end"), (5, 4, 2, "end"), (0, 1, 3, "units"), (-2, 1, 3, "units"), (101, 1, 3, "units")],
)
def test_bad_requests_are_refused_with_field_errors_and_reserve_nothing(
    merchant, listing, units, start_days, end_days, field
):
    d = listing.available_from
    with pytest.raises(InvalidInput) as exc:
        book(merchant, listing, units, d + timedelta(days=start_days), d + timedelta(days=end_days))
    assert field in exc.value.field_errors
    assert not Lease.objects.exists()
    assert set(reserved_by_day(listing).values()) == {0}


def test_min_units_and_min_days_apply(merchant, make_listing):
    listing = make_listing(min_units=10, min_days=7)
    d = listing.available_from
    with pytest.raises(InvalidInput) as exc:
        book(merchant, listing, 5, d, d + timedelta(days=7))
    assert "units" in exc.value.field_errors
    with pytest.raises(InvalidInput) as exc:
        book(merchant, listing, 10, d, d + timedelta(days=6))
    assert "end" in exc.value.field_errors
    assert book(merchant, listing, 10, d, d + timedelta(days=7)).units == 10


# --- Capacity boundaries -----------------------------------------------------------------


def test_exactly_the_capacity_can_be_leased_and_not_one_more(merchant, other_merchant, listing):
    d = listing.available_from
    book(merchant, listing, 60, d, d + timedelta(days=5))
    book(other_merchant, listing, 40, d + timedelta(days=2), d + timedelta(days=4))
    with pytest.raises(NotEnoughCapacity) as exc:
        book(other_merchant, listing, 1, d + timedelta(days=3), d + timedelta(days=4))
    assert "units" in exc.value.field_errors
    assert str(d + timedelta(days=3)) in exc.value.message
    assert max(reserved_by_day(listing).values()) == 100
    assert Lease.objects.count() == 2


def test_database_refuses_overbooking_and_negative_reservations(listing):
    day = CapacityDay.objects.filter(listing=listing).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        CapacityDay.objects.filter(pk=day.pk).update(reserved=101)
    with pytest.raises(IntegrityError), transaction.atomic():
        CapacityDay.objects.filter(pk=day.pk).update(reserved=-1)


def test_capacity_can_never_be_cut_below_what_is_reserved(operator, merchant, listing):
    d = listing.available_from
    book(merchant, listing, 70, d + timedelta(days=4), d + timedelta(days=6))
    with pytest.raises(CapacityBelowReserved) as exc:
        listing_services.change_listing_capacity(actor=operator, listing_id=listing.pk, units=69)
    assert str(d + timedelta(days=4)) in exc.value.message
    listing_services.change_listing_capacity(actor=operator, listing_id=listing.pk, units=70)
    assert set(CapacityDay.objects.filter(listing=listing).values_list("capacity", flat=True)) == {70}
    with pytest.raises(NotEnoughCapacity):
        book(merchant, listing, 1, d + timedelta(days=5), d + timedelta(days=6))


def test_extending_a_listing_adds_ledger_days(operator, merchant, listing):
    new_end = listing.available_until + timedelta(days=10)
    listing_services.extend_listing(actor=operator, listing_id=listing.pk, available_until=new_end)
    assert CapacityDay.objects.filter(listing=listing).count() == 70
    assert book(merchant, listing, 100, new_end - timedelta(days=3), new_end).status == Lease.Status.HELD


# --- Holds, answers and expiry -----------------------------------------------------------


def test_request_holds_units_until_the_24_hour_deadline(merchant, listing):
    d = listing.available_from
    before = timezone.now()
    lease = book(merchant, listing, 30, d, d + timedelta(days=2))
    assert lease.status == Lease.Status.HELD
    assert timedelta(hours=23, minutes=59) < lease.hold_expires_at - before <= timedelta(hours=24, seconds=5)
    assert reserved_by_day(listing)[d] == 30


def test_expired_holds_give_their_units_back(merchant, listing):
    d = listing.available_from
    lease = book(merchant, listing, 30, d, d + timedelta(days=2))
    assert leases.expire_holds() == 0  # not yet due
    later = timezone.now() + timedelta(hours=24, seconds=1)
    with time_machine.travel(later, tick=False):
        assert leases.expire_holds() == 1
        assert leases.expire_holds() == 0  # idempotent
    lease.refresh_from_db()
    assert lease.status == Lease.Status.EXPIRED
    assert reserved_by_day(listing)[d] == 0
    assert AuditEntry.objects.filter(action="lease.expired", target_id=str(lease.pk)).exists()


def test_approving_after_the_deadline_fails_and_frees_the_units(operator, merchant, listing):
    d = listing.available_from
    lease = book(merchant, listing, 30, d, d + timedelta(days=2))
    with time_machine.travel(timezone.now() + timedelta(hours=25), tick=False):
        with pytest.raises(InvalidTransition) as exc:
            leases.approve_lease(actor=operator, lease_id=lease.pk)
    assert exc.value.code == "hold_expired"
    lease.refresh_from_db()
    assert lease.status == Lease.Status.EXPIRED
    assert reserved_by_day(listing)[d] == 0


def test_reject_frees_units_and_approve_keeps_them(operator, merchant, other_merchant, listing):
    d = listing.available_from
    a = book(merchant, listing, 30, d, d + timedelta(days=2))
    b = book(other_merchant, listing, 20, d, d + timedelta(days=2))
    leases.approve_lease(actor=operator, lease_id=a.pk)
    leases.reject_lease(actor=operator, lease_id=b.pk, reason="No space for hazmat")
    assert reserved_by_day(listing)[d] == 30
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, b.status) == (Lease.Status.APPROVED, Lease.Status.REJECTED)
    with pytest.raises(InvalidTransition):
        leases.reject_lease(actor=operator, lease_id=a.pk)


def test_only_the_operator_answers_and_the_tenant_cannot(merchant, other_merchant, listing):
    lease = book(merchant, listing, 1, listing.available_from, listing.available_from + timedelta(days=1))
    for user in (merchant, other_merchant):
        with pytest.raises(NotFound):
            leases.approve_lease(actor=user, lease_id=lease.pk)


# --- Credit gate -------------------------------------------------------------------------


def test_blacklisted_tenant_is_refused_with_the_reason(merchant, listing):
    blacklist(merchant.subject)
    with pytest.raises(CreditGateRefused) as exc:
        book(merchant, listing, 1, listing.available_from, listing.available_from + timedelta(days=1))
    assert exc.value.reasons[0]["code"] == "blacklisted"
    assert "DEC-1" in exc.value.message
    assert not Lease.objects.exists()


def test_blacklisted_operator_cannot_lease_out(merchant, operator, listing):
    blacklist(operator.subject)
    with pytest.raises(CreditGateRefused) as exc:
        book(merchant, listing, 1, listing.available_from, listing.available_from + timedelta(days=1))
    assert exc.value.reasons[0]["code"] == "operator_blacklisted"


@pytest.mark.parametrize(
    ("tenant_grade", "minimum", "allowed"),
    [("A", "B", True), ("B", "B", True), ("M", "B", False), ("C", "M", False), ("M", "M", True), ("D", "", True)],
)
def test_tenant_grade_must_meet_the_listing_minimum(merchant, make_listing, tenant_grade, minimum, allowed):
    merchant.subject.grade = tenant_grade
    merchant.subject.save()
    listing = make_listing(min_tenant_grade=minimum)
    d = listing.available_from
    if allowed:
        assert book(merchant, listing, 1, d, d + timedelta(days=1)).status == Lease.Status.HELD
    else:
        with pytest.raises(CreditGateRefused) as exc:
            book(merchant, listing, 1, d, d + timedelta(days=1))
        assert [r["code"] for r in exc.value.reasons] == ["grade_below_minimum"]
        assert f"has {tenant_grade}" in exc.value.message


@pytest.mark.parametrize(("grade", "status"), [("A", "approved"), ("B", "approved"), ("M", "held"), ("C", "held")])
def test_instant_booking_only_where_the_grade_allows_it(merchant, make_listing, grade, status):
    merchant.subject.grade = grade
    merchant.subject.save()
    listing = make_listing(booking_mode="instant")
    lease = book(merchant, listing, 5, listing.available_from, listing.available_from + timedelta(days=2))
    assert lease.status == status
    codes = [r["code"] for r in lease.decision_reasons]
    assert ("instant_booking" if status == "approved" else "instant_needs_grade") in codes
    assert (lease.hold_expires_at is None) == (status == "approved")


# --- Check-in, completion, cancellation --------------------------------------------------


def test_check_in_only_from_the_start_day_and_completion_after_the_end(operator, merchant, make_listing, today):
    listing = make_listing(start_offset=0, booking_mode="instant")
    lease = book(merchant, listing, 10, today + timedelta(days=1), today + timedelta(days=3))
    with pytest.raises(InvalidTransition):
        leases.check_in_lease(actor=operator, lease_id=lease.pk)  # before the start
    fund_lease(lease)
    start_day = timezone.now() + timedelta(days=1)
    with time_machine.travel(start_day, tick=False):
        assert leases.check_in_lease(actor=operator, lease_id=lease.pk).status == Lease.Status.ACTIVE
        with pytest.raises(InvalidTransition):
            leases.complete_lease(actor=operator, lease_id=lease.pk)  # still running
    with time_machine.travel(timezone.now() + timedelta(days=3), tick=False):
        assert leases.complete_due_leases() == 1
    lease.refresh_from_db()
    assert lease.status == Lease.Status.COMPLETED
    event = CreditEvent.objects.get(subject=merchant.subject)
    assert (event.kind_id, event.source_reference) == ("lease_completed", f"lease:{lease.pk}")
    assert reserved_by_day(listing)[today + timedelta(days=1)] == 10  # used days stay used


def test_cancelling_a_request_or_early_is_free(merchant, make_listing, today):
    listing = make_listing(
        start_offset=1,
        days=60,
        booking_mode="instant",
        free_cancellation_days=7,
        cancellation_fee_percent=Decimal("50"),
    )
    held_listing_lease = book(merchant, listing, 10, today + timedelta(days=20), today + timedelta(days=22))
    lease = leases.cancel_lease(actor=merchant, lease_id=held_listing_lease.pk)
    assert (lease.status, lease.cancellation_fee) == (Lease.Status.CANCELLED, Decimal("0.00"))
    assert not CreditEvent.objects.exists()
    assert reserved_by_day(listing)[today + timedelta(days=20)] == 0


def test_late_cancellation_costs_the_fee_and_is_recorded(merchant, make_listing, today):
    listing = make_listing(booking_mode="instant", free_cancellation_days=7, cancellation_fee_percent=Decimal("50"))
    lease = book(merchant, listing, 10, today + timedelta(days=3), today + timedelta(days=5))  # 10x2x1.25 = 25
    lease = leases.cancel_lease(actor=merchant, lease_id=lease.pk, reason="Plans changed")
    assert lease.cancellation_fee == Decimal("12.50")
    assert CreditEvent.objects.get(subject=merchant.subject).kind_id == "late_cancellation"
    assert reserved_by_day(listing)[today + timedelta(days=3)] == 0


def test_only_the_tenant_cancels_and_active_leases_cannot(operator, merchant, other_merchant, make_listing, today):
    listing = make_listing(start_offset=0, booking_mode="instant")
    lease = book(merchant, listing, 10, today, today + timedelta(days=3))
    for user in (operator, other_merchant):
        with pytest.raises(NotFound):
            leases.cancel_lease(actor=user, lease_id=lease.pk)
    fund_lease(lease)
    leases.check_in_lease(actor=operator, lease_id=lease.pk)
    with pytest.raises(InvalidTransition):
        leases.cancel_lease(actor=merchant, lease_id=lease.pk)


# --- Reconciliation ----------------------------------------------------------------------


def test_reconciliation_finds_no_drift_after_normal_use_and_reports_injected_drift(operator, merchant, listing):
    d = listing.available_from
    a = book(merchant, listing, 30, d, d + timedelta(days=4))
    book(merchant, listing, 20, d + timedelta(days=2), d + timedelta(days=6))
    leases.reject_lease(actor=operator, lease_id=a.pk)
    assert ledger.reconcile() == []
    CapacityDay.objects.filter(listing=listing, day=d + timedelta(days=10)).update(reserved=3)
    drift = ledger.report_drift()
    assert drift == [{"listing_id": listing.pk, "day": d + timedelta(days=10), "reserved": 3, "expected": 0}]
    assert AuditEntry.objects.filter(action="ledger.drift_detected", target_id=str(listing.pk)).exists()


def test_every_state_change_is_audited(operator, merchant, listing):
    lease = book(merchant, listing, 1, listing.available_from, listing.available_from + timedelta(days=1))
    leases.approve_lease(actor=operator, lease_id=lease.pk)
    actions = list(
        AuditEntry.objects.filter(target_id=str(lease.pk), target_type="warehouses.lease")
        .order_by("id")
        .values_list("action", "actor_label")
    )
    assert actions == [("lease.requested", merchant.username), ("lease.approved", operator.username)]


# --- Defaults on either side -------------------------------------------------------------


def test_operator_records_a_tenant_no_show_from_the_day_after_the_start(operator, merchant, make_listing, today):
    listing = make_listing(start_offset=0, booking_mode="instant")
    lease = book(merchant, listing, 10, today, today + timedelta(days=5))
    with pytest.raises(InvalidTransition) as exc:
        leases.report_no_show(actor=operator, lease_id=lease.pk)
    assert exc.value.code == "too_early_for_no_show"
    with time_machine.travel(timezone.now() + timedelta(days=1), tick=False):
        lease = leases.report_no_show(actor=operator, lease_id=lease.pk)
    assert (lease.status, lease.defaulted_party) == (Lease.Status.DEFAULTED, "tenant")
    assert reserved_by_day(listing)[today + timedelta(days=2)] == 0
    event = CreditEvent.objects.get()
    assert (event.subject_id, event.kind_id) == (merchant.subject.pk, "lease_defaulted")
    assert ledger.reconcile() == []


def test_operator_withdrawal_is_the_operators_default(operator, merchant, make_listing):
    listing = make_listing(booking_mode="instant")
    lease = book(merchant, listing, 10, listing.available_from, listing.available_from + timedelta(days=3))
    with pytest.raises(InvalidInput):
        leases.withdraw_lease(actor=operator, lease_id=lease.pk, reason=" ")
    with pytest.raises(NotFound):
        leases.withdraw_lease(actor=merchant, lease_id=lease.pk, reason="mine")
    lease = leases.withdraw_lease(actor=operator, lease_id=lease.pk, reason="Flooded aisle")
    assert (lease.status, lease.defaulted_party) == (Lease.Status.DEFAULTED, "operator")
    assert CreditEvent.objects.get().subject_id == operator.subject.pk
    assert set(reserved_by_day(listing).values()) == {0}
