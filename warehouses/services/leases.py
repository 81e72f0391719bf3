"""Lease services: request (instant or held for the operator's answer), approve, reject,
expire, check in, complete, cancel, no-show, withdraw. Each service owns one transaction,
locks the lease (warehouses/services/locks.py: the listing first, then the lease), checks
who acts and names its transition of the lease lifecycle (lease_lifecycle.py), which
checks the state and the guards, writes, does the step's work and audits.

    held ──approve──> approved ──check in──> active ──complete──> completed
      │  └─reject──> rejected       │
      │  └─(deadline)─> expired     └─cancel──> cancelled (fee after the free window)
      └─cancel──> cancelled

An approved lease can also end in `defaulted`: the operator records a tenant no-show (from
the day after the start) or withdraws (an operator default); the defaulting side's record
gets a `lease_defaulted` credit event.

Held, approved, active and completed leases count against the ledger; rejected, expired,
cancelled and defaulted ones have given their units back.

Money (warehouses/services/escrow.py, in the same transaction): check-in needs the price
paid into escrow and releases the first period; completion releases the rest; cancellation
and defaults refund by the cancellation policy.
"""

import logging
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import partial

from django.conf import settings
from django.utils import timezone

from core import money, rows
from core.audit import record_audit
from core.db import service_atomic
from core.errors import InvalidInput
from credit.selectors.accounts import acting_subject
from warehouses.errors import InvalidTransition, ListingNotFound
from warehouses.models import Lease, Listing
from warehouses.services import gate, ledger
from warehouses.services.lease_lifecycle import LEASE, lease_snapshot, require_operator, require_tenant
from warehouses.services.locks import each_locked, lock_lease

logger = logging.getLogger(__name__)


def _config(name: str, default):
    return getattr(settings, "ENTREPOT", {}).get(name, default)


MAX_LEASE_PRICE = Decimal("100000000000000")  # 10**14: Lease.total_price is numeric(16, 2)


def lease_price(*, unit_price: Decimal, units: int, start: date, end: date, currency: str) -> Decimal:
    """The price of `units` over [start, end), rounded to the currency's minor units."""
    return money.quantize(unit_price * units * (end - start).days, currency, rounding=ROUND_HALF_UP)


def validate_request(*, listing: Listing, units: int, start: date, end: date, today: date) -> None:
    """Business rules on the shape of a request against a listing: 400 with field errors."""
    field_errors: dict[str, list[str]] = {}
    if end <= start:
        field_errors["end"] = ["The end must be after the start (the end day itself is not included)."]
    if units < 1:
        field_errors["units"] = ["Ask for at least one unit."]
    if not field_errors:
        if start < today:
            field_errors["start"] = ["The start cannot be in the past."]
        if start < listing.available_from or end > listing.available_until:
            field_errors.setdefault("start", []).append(
                f"The listing is offered from {listing.available_from.isoformat()} until "
                f"{listing.available_until.isoformat()} (exclusive)."
            )
        if units < listing.min_units:
            field_errors["units"] = [f"This listing leases at least {listing.min_units} units."]
        elif units > listing.units:
            field_errors["units"] = [f"This listing offers {listing.units} units."]
        if (end - start).days < listing.min_days:
            field_errors.setdefault("end", []).append(f"This listing leases for at least {listing.min_days} days.")
        if (
            not field_errors
            and lease_price(
                unit_price=listing.price_per_unit_day, units=units, start=start, end=end, currency=listing.currency
            )
            >= MAX_LEASE_PRICE
        ):  # the price column (numeric(16, 2)) could not hold it: a 500
            field_errors["units"] = [f"A lease costs less than {MAX_LEASE_PRICE:,}; lease fewer units or days."]
    if field_errors:
        first = next(iter(field_errors.values()))[0]
        raise InvalidInput(first, code="invalid_lease_request", field_errors=field_errors)


def _check_open(*, listing: Listing | None, tenant_id: int) -> None:
    if listing is None or listing.status != Listing.Status.PUBLISHED:
        raise ListingNotFound("This listing is not open for leases.")
    if listing.warehouse.owner_id == tenant_id:
        raise InvalidInput(
            "A subject cannot lease its own listing.", code="own_listing", field_errors={"tenant": ["Own listing."]}
        )


def request_lease(
    *, actor, tenant_id: int | None, listing_id: int, units: int, start: date, end: date, note: str = ""
) -> Lease:
    """Reserve `units` on [start, end) for the tenant (`tenant_id`, or the actor's only
    subject when None). Instant listings (and a grade that allows it) approve at once;
    otherwise the lease is held until the operator answers or the deadline passes."""
    now = timezone.now()
    today = timezone.localdate(now)
    with service_atomic():
        # The actor must act for the tenant: one query checks that and loads the tenant.
        tenant = acting_subject(user=actor, subject_id=tenant_id, field="tenant")
        tenant_id = tenant.pk
        # Lock first and check once under the lock (input, credit gate: one query for both
        # parties), then write: a handful of short statements while the lock is held.
        try:
            listing = ledger.lock_listing(listing_id=listing_id)
        except ListingNotFound:
            listing = None
        _check_open(listing=listing, tenant_id=tenant_id)
        validate_request(listing=listing, units=units, start=start, end=end, today=today)
        outcome = gate.check_lease(tenant=tenant, listing=listing)
        ledger.reserve(listing=listing, start=start, end=end, units=units)
        instant = outcome.instant
        lease = Lease(
            listing=listing,
            tenant=tenant,
            units=units,
            start=start,
            end=end,
            status=Lease.Status.APPROVED if instant else Lease.Status.HELD,
            booking_mode=Listing.BookingMode.INSTANT if instant else Listing.BookingMode.REQUEST,
            unit_price=listing.price_per_unit_day,
            total_price=lease_price(
                unit_price=listing.price_per_unit_day, units=units, start=start, end=end, currency=listing.currency
            ),
            currency=listing.currency,
            hold_expires_at=None if instant else now + timedelta(hours=_config("WAREHOUSE_ANSWER_HOURS", 24)),
            decided_at=now if instant else None,
            decision_reasons=outcome.reasons,
            note=note,
            requested_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        rows.insert(lease)  # a prepared INSERT: the hot path of every lease request
        record_audit(
            actor=actor,
            action="lease.booked" if instant else "lease.requested",
            target=lease,
            subject_id=tenant_id,
            new=lease_snapshot(lease),
            reason="; ".join(r["message"] for r in outcome.reasons),
        )
    return lease


def _operator_step(name: str, *, actor, lease_id: int) -> Lease:
    """Lock the lease, check the actor runs its listing, apply the transition `name`."""
    with service_atomic():
        lease = lock_lease(lease_id)
        require_operator(actor=actor, lease=lease)
        return LEASE.apply(name, lease, actor=actor)


def approve_lease(*, actor, lease_id: int) -> Lease:
    """The operator approves a held request before its deadline; the credit gate is asked
    again. A request past its deadline expires instead (409 `hold_expired`)."""
    with service_atomic():
        lease = lock_lease(lease_id)
        require_operator(actor=actor, lease=lease)
        if lease.status != Lease.Status.HELD or lease.hold_expires_at > timezone.now():
            reasons = list(lease.decision_reasons)  # the gate (a guard) adds its reasons
            return LEASE.apply("approve", lease, actor=actor, fields={"decision_reasons": reasons}, reasons=reasons)
        _expire_hold(lease)
    raise InvalidTransition(
        "The answer deadline has passed: the hold expired and its units were released.", code="hold_expired"
    )


def reject_lease(*, actor, lease_id: int, reason: str = "") -> Lease:
    with service_atomic():
        lease = lock_lease(lease_id)
        require_operator(actor=actor, lease=lease)
        fields = {"decision_reasons": lease.decision_reasons + [{"code": "rejected", "message": reason}]}
        return LEASE.apply("reject", lease, actor=actor, reason=reason, fields=fields if reason else None)


def _expire_hold(lease: Lease) -> None:
    reason = f"The operator did not answer by {lease.hold_expires_at.isoformat()}; the units are free again."
    LEASE.apply("expire_hold", lease, actor=None, reason=reason)


def expire_lease(*, lease_id: int) -> bool:
    """Expire one held lease whose deadline has passed. Safe to repeat."""
    with service_atomic():
        lease = lock_lease(lease_id)
        if lease.status != Lease.Status.HELD or lease.hold_expires_at > timezone.now():
            return False
        _expire_hold(lease)
    return True


def expire_holds(*, limit: int = 500) -> int:
    """Expire every held lease past its deadline (beat). Returns how many expired."""
    due = list(
        Lease.objects.filter(status=Lease.Status.HELD, hold_expires_at__lte=timezone.now())
        .order_by("hold_expires_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    return each_locked(expire_lease, due, key="lease_id", what="Held lease")


def check_in_lease(*, actor, lease_id: int) -> Lease:
    """The goods arrived: from the start day, with the price in escrow."""
    return _operator_step("check_in", actor=actor, lease_id=lease_id)


def complete_lease(*, actor, lease_id: int) -> Lease:
    """An active lease completes once its end day has come (the end is exclusive). The
    records of both parties (tenant and operator) get a `lease_completed` credit event."""
    return _operator_step("complete", actor=actor, lease_id=lease_id)


def complete_due_leases(*, limit: int = 500) -> int:
    due = list(
        Lease.objects.filter(status=Lease.Status.ACTIVE, end__lte=timezone.localdate())
        .order_by("end", "id")
        .values_list("id", flat=True)[:limit]
    )
    complete = partial(complete_lease, actor=None)
    return each_locked(complete, due, key="lease_id", what="Due lease")


def cancellation_fee(*, lease: Lease, listing: Listing, today: date) -> Decimal:
    """Held requests cancel free. An approved lease cancels free up to
    `free_cancellation_days` before its start; later, the listing's fee percentage of the
    lease price applies."""
    if lease.status == Lease.Status.HELD:
        return Decimal("0.00")
    if (lease.start - today).days >= listing.free_cancellation_days:
        return Decimal("0.00")
    return money.quantize(lease.total_price * listing.cancellation_fee_percent / 100, lease.currency)


def cancel_lease(*, actor, lease_id: int, reason: str = "") -> Lease:
    with service_atomic():
        lease = lock_lease(lease_id)
        require_tenant(actor=actor, lease=lease)
        fee = cancellation_fee(lease=lease, listing=lease.listing, today=timezone.localdate())
        return LEASE.apply("cancel", lease, actor=actor, reason=reason, fields={"cancellation_fee": fee})


def _default(name: str, *, actor, lease_id: int, party: str, reason: str) -> Lease:
    fields = {"defaulted_party": party}
    with service_atomic():
        lease = lock_lease(lease_id)
        require_operator(actor=actor, lease=lease)
        fields["decision_reasons"] = lease.decision_reasons + [{"code": f"{party}_default", "message": reason}]
        return LEASE.apply(name, lease, actor=actor, reason=reason, fields=fields)


def report_no_show(*, actor, lease_id: int, reason: str = "") -> Lease:
    """The operator records that the tenant never checked in: allowed once the whole start
    day has passed. The units are released and the tenant's record gets `lease_defaulted`."""
    reason = reason or "The tenant did not check in."
    return _default("no_show", actor=actor, lease_id=lease_id, party=Lease.Party.TENANT, reason=reason)


def withdraw_lease(*, actor, lease_id: int, reason: str) -> Lease:
    """The operator backs out of an approved lease: the units are released and the
    operator's record gets `lease_defaulted`."""
    if not reason.strip():
        raise InvalidInput("Say why the lease is withdrawn.", field_errors={"reason": ["Required."]})
    return _default("withdraw", actor=actor, lease_id=lease_id, party=Lease.Party.OPERATOR, reason=reason)
