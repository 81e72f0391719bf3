"""Lease lifecycle: request (instant or held for the operator's answer), approve, reject,
expire, check in, complete, cancel. Each service owns one transaction, takes the listing's
lock first (then the lease's) and writes its audit record.

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

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config import rows
from core.audit import record_audit
from core.db import service_atomic
from credit import errors
from credit.selectors.accounts import acting_subject, is_member
from warehouses.errors import InvalidTransition, LeaseNotFound, ListingNotFound
from warehouses.models import Lease, Listing
from warehouses.services import escrow, gate, ledger

logger = logging.getLogger(__name__)
CENT = Decimal("0.01")


def _config(name: str, default):
    return getattr(settings, "ENTREPOT", {}).get(name, default)


MAX_LEASE_PRICE = Decimal("100000000000000")  # 10**14: Lease.total_price is numeric(16, 2)


def lease_price(*, unit_price: Decimal, units: int, start: date, end: date) -> Decimal:
    return (unit_price * units * (end - start).days).quantize(CENT, rounding=ROUND_HALF_UP)


def _snapshot(lease: Lease) -> dict:
    return {
        "status": lease.status,
        "units": lease.units,
        "start": lease.start.isoformat(),
        "end": lease.end.isoformat(),
        "total_price": str(lease.total_price),
        "currency": lease.currency,
    }


def _record_credit_event(*, actor, subject_id: int, kind: str, lease: Lease, magnitude=Decimal("1")) -> None:
    """Lease outcomes feed the registry through the scoring engineer's service."""
    from credit.services.events import record_credit_event

    record_credit_event(
        actor=actor,
        subject_id=subject_id,
        kind=kind,
        source="platform",
        occurred_at=timezone.now(),
        magnitude=magnitude,
        source_reference=f"lease:{lease.pk}",
    )


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
            and lease_price(unit_price=listing.price_per_unit_day, units=units, start=start, end=end) >= MAX_LEASE_PRICE
        ):  # the price column (numeric(16, 2)) could not hold it: a 500
            field_errors["units"] = [f"A lease costs less than {MAX_LEASE_PRICE:,}; lease fewer units or days."]
    if field_errors:
        first = next(iter(field_errors.values()))[0]
        raise errors.InvalidInput(first, code="invalid_lease_request", field_errors=field_errors)


def _check_open(*, listing: Listing | None, tenant_id: int) -> None:
    if listing is None or listing.status != Listing.Status.PUBLISHED:
        raise ListingNotFound("This listing is not open for leases.")
    if listing.warehouse.owner_id == tenant_id:
        raise errors.InvalidInput(
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
            total_price=lease_price(unit_price=listing.price_per_unit_day, units=units, start=start, end=end),
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
            new=_snapshot(lease),
            reason="; ".join(r["message"] for r in outcome.reasons),
        )
    return lease


def _locked_lease(*, lease_id: int) -> tuple[Listing, Lease]:
    listing_id = Lease.objects.filter(pk=lease_id).values_list("listing_id", flat=True).first()
    if listing_id is None:
        raise LeaseNotFound()
    listing = ledger.lock_listing(listing_id=listing_id)
    lease = Lease.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=lease_id)
    return listing, lease


def _require_operator(*, actor, listing: Listing) -> None:
    if actor is not None and not is_member(user=actor, subject_id=listing.warehouse.owner_id):
        raise LeaseNotFound()  # the lease is not visible to them at all


def _require_tenant(*, actor, lease: Lease) -> None:
    if not is_member(user=actor, subject_id=lease.tenant_id):
        raise LeaseNotFound()


def _expire_locked(
    *, listing: Listing, lease: Lease, action: str, reason: str, fields=(), new_extra: dict | None = None
) -> None:
    """End a locked lease as `expired` (an unanswered hold, an unpaid approval): its units
    go back to the ledger and the audit says why. The caller sets any other `fields` first."""
    old = _snapshot(lease)
    ledger.release(listing=listing, start=lease.start, end=lease.end, units=lease.units)
    lease.status = Lease.Status.EXPIRED
    lease.save(update_fields=["status", *fields])
    record_audit(
        actor=None,
        action=action,
        target=lease,
        subject_id=lease.tenant_id,
        old=old,
        new={**_snapshot(lease), **(new_extra or {})},
        reason=reason,
    )


def _expire_hold_locked(*, listing: Listing, lease: Lease, now) -> None:
    lease.decided_at = now
    _expire_locked(
        listing=listing,
        lease=lease,
        action="lease.expired",
        reason=f"The operator did not answer by {lease.hold_expires_at.isoformat()}; the units are free again.",
        fields=["decided_at"],
    )


def approve_lease(*, actor, lease_id: int) -> Lease:
    now = timezone.now()
    with transaction.atomic():
        listing, lease = _locked_lease(lease_id=lease_id)
        _require_operator(actor=actor, listing=listing)
        if lease.status == Lease.Status.APPROVED:
            return lease
        if lease.status == Lease.Status.HELD and lease.hold_expires_at <= now:
            _expire_hold_locked(listing=listing, lease=lease, now=now)
            expired = True
        else:
            expired = False
        if not expired:
            if lease.status != Lease.Status.HELD:
                raise InvalidTransition(f"A {lease.get_status_display().lower()} lease cannot be approved.")
            # The tenant's standing may have changed since the request.
            outcome = gate.check_lease(tenant=lease.tenant, listing=listing)
            old = _snapshot(lease)
            lease.status = Lease.Status.APPROVED
            lease.decided_at = now
            lease.decision_reasons = lease.decision_reasons + [
                r for r in outcome.reasons if r["code"] not in {"instant_booking", "instant_needs_grade"}
            ]
            lease.save(update_fields=["status", "decided_at", "decision_reasons"])
            record_audit(
                actor=actor,
                action="lease.approved",
                target=lease,
                subject_id=lease.tenant_id,
                old=old,
                new=_snapshot(lease),
            )
            return lease
    raise InvalidTransition(
        "The answer deadline has passed: the hold expired and its units were released.", code="hold_expired"
    )


def reject_lease(*, actor, lease_id: int, reason: str = "") -> Lease:
    now = timezone.now()
    with transaction.atomic():
        listing, lease = _locked_lease(lease_id=lease_id)
        _require_operator(actor=actor, listing=listing)
        if lease.status == Lease.Status.REJECTED:
            return lease
        if lease.status != Lease.Status.HELD:
            raise InvalidTransition(f"A {lease.get_status_display().lower()} lease cannot be rejected.")
        old = _snapshot(lease)
        ledger.release(listing=listing, start=lease.start, end=lease.end, units=lease.units)
        lease.status = Lease.Status.REJECTED
        lease.decided_at = now
        if reason:
            lease.decision_reasons = lease.decision_reasons + [{"code": "rejected", "message": reason}]
        lease.save(update_fields=["status", "decided_at", "decision_reasons"])
        record_audit(
            actor=actor,
            action="lease.rejected",
            target=lease,
            subject_id=lease.tenant_id,
            old=old,
            new=_snapshot(lease),
            reason=reason,
        )
    return lease


def expire_lease(*, lease_id: int) -> bool:
    """Expire one held lease whose deadline has passed. Safe to repeat."""
    now = timezone.now()
    with transaction.atomic():
        listing, lease = _locked_lease(lease_id=lease_id)
        if lease.status != Lease.Status.HELD or lease.hold_expires_at > now:
            return False
        _expire_hold_locked(listing=listing, lease=lease, now=now)
    return True


def expire_holds(*, limit: int = 500) -> int:
    """Expire every held lease past its deadline (beat). Returns how many expired."""
    due = list(
        Lease.objects.filter(status=Lease.Status.HELD, hold_expires_at__lte=timezone.now())
        .order_by("hold_expires_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    count = 0
    for lease_id in due:
        try:
            count += expire_lease(lease_id=lease_id)
        except errors.Busy:
            logger.info("Lease %s busy; it expires on the next run", lease_id)
    return count


def check_in_lease(*, actor, lease_id: int) -> Lease:
    now = timezone.now()
    today = timezone.localdate(now)
    with transaction.atomic():
        listing, lease = _locked_lease(lease_id=lease_id)
        _require_operator(actor=actor, listing=listing)
        if lease.status == Lease.Status.ACTIVE:
            return lease
        if lease.status != Lease.Status.APPROVED:
            raise InvalidTransition(f"A {lease.get_status_display().lower()} lease cannot be checked in.")
        if today < lease.start or today >= lease.end:
            raise InvalidTransition(
                f"Check-in is possible from {lease.start.isoformat()} until before {lease.end.isoformat()}.",
                code="outside_lease_dates",
            )
        escrow.require_funded(lease=lease)
        old = _snapshot(lease)
        lease.status = Lease.Status.ACTIVE
        lease.checked_in_at = now
        lease.save(update_fields=["status", "checked_in_at"])
        escrow.release_due(actor=actor, lease=lease, on=today)  # the first period's share
        record_audit(
            actor=actor,
            action="lease.checked_in",
            target=lease,
            subject_id=lease.tenant_id,
            old=old,
            new=_snapshot(lease),
        )
    return lease


def complete_lease(*, actor, lease_id: int) -> Lease:
    """An active lease completes once its end day has come (the end is exclusive). The
    records of both parties (tenant and operator) get a `lease_completed` credit event."""
    now = timezone.now()
    with transaction.atomic():
        listing, lease = _locked_lease(lease_id=lease_id)
        _require_operator(actor=actor, listing=listing)
        if lease.status == Lease.Status.COMPLETED:
            return lease
        if lease.status != Lease.Status.ACTIVE:
            raise InvalidTransition(f"A {lease.get_status_display().lower()} lease cannot be completed.")
        if timezone.localdate(now) < lease.end:
            raise InvalidTransition(
                f"The lease runs until {lease.end.isoformat()} (exclusive).", code="lease_not_ended"
            )
        old = _snapshot(lease)
        lease.status = Lease.Status.COMPLETED
        lease.completed_at = now
        lease.save(update_fields=["status", "completed_at"])
        record_audit(
            actor=actor,
            action="lease.completed",
            target=lease,
            subject_id=lease.tenant_id,
            old=old,
            new=_snapshot(lease),
        )
        counts_as_completion = not _continues_after_split(lease=lease)
        if counts_as_completion:
            _record_credit_event(actor=actor, subject_id=lease.tenant_id, kind="lease_completed", lease=lease)
        escrow.release_due(actor=actor, lease=lease)  # the remainder (unless a dispute froze it)
        if counts_as_completion:
            _record_credit_event(
                actor=actor, subject_id=listing.warehouse.owner_id, kind="lease_completed", lease=lease
            )
    return lease


def _continues_after_split(*, lease: Lease) -> bool:
    """The days before a transfer of part of a lease: the same tenant's tenancy goes on in
    the kept part (a sibling starting where this one ends), whose completion is the one
    that counts. So a transfer never earns the parties an extra `lease_completed`."""
    return (
        lease.parent_id is not None
        and Lease.objects.filter(parent_id=lease.parent_id, tenant_id=lease.tenant_id, start=lease.end).exists()
    )


def complete_due_leases(*, limit: int = 500) -> int:
    due = list(
        Lease.objects.filter(status=Lease.Status.ACTIVE, end__lte=timezone.localdate())
        .order_by("end", "id")
        .values_list("id", flat=True)[:limit]
    )
    done = 0
    for lease_id in due:
        try:
            complete_lease(actor=None, lease_id=lease_id)
            done += 1
        except (errors.Busy, InvalidTransition):
            continue
    return done


def cancellation_fee(*, lease: Lease, listing: Listing, today: date) -> Decimal:
    """Held requests cancel free. An approved lease cancels free up to
    `free_cancellation_days` before its start; later, the listing's fee percentage of the
    lease price applies."""
    if lease.status == Lease.Status.HELD:
        return Decimal("0.00")
    if (lease.start - today).days >= listing.free_cancellation_days:
        return Decimal("0.00")
    return (lease.total_price * listing.cancellation_fee_percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def cancel_lease(*, actor, lease_id: int, reason: str = "") -> Lease:
    now = timezone.now()
    with transaction.atomic():
        listing, lease = _locked_lease(lease_id=lease_id)
        _require_tenant(actor=actor, lease=lease)
        if lease.status == Lease.Status.CANCELLED:
            return lease
        if lease.status not in (Lease.Status.HELD, Lease.Status.APPROVED):
            raise InvalidTransition(f"A {lease.get_status_display().lower()} lease cannot be cancelled.")
        fee = cancellation_fee(lease=lease, listing=listing, today=timezone.localdate(now))
        old = _snapshot(lease)
        ledger.release(listing=listing, start=lease.start, end=lease.end, units=lease.units)
        lease.status = Lease.Status.CANCELLED
        lease.cancelled_at = now
        lease.cancellation_fee = fee
        lease.save(update_fields=["status", "cancelled_at", "cancellation_fee"])
        escrow.settle_cancellation(actor=actor, lease=lease, fee=fee, memo=f"Lease {lease.pk} cancelled")
        record_audit(
            actor=actor,
            action="lease.cancelled",
            target=lease,
            subject_id=lease.tenant_id,
            old=old,
            new={**_snapshot(lease), "cancellation_fee": str(fee)},
            reason=reason,
        )
        if fee > 0:
            _record_credit_event(actor=actor, subject_id=lease.tenant_id, kind="late_cancellation", lease=lease)
    return lease


def _default_locked(*, actor, listing: Listing, lease: Lease, party: str, reason: str, action: str) -> Lease:
    now = timezone.now()
    old = _snapshot(lease)
    ledger.release(listing=listing, start=lease.start, end=lease.end, units=lease.units)
    lease.status = Lease.Status.DEFAULTED
    lease.defaulted_party = party
    lease.defaulted_at = now
    lease.decision_reasons = lease.decision_reasons + [{"code": f"{party}_default", "message": reason}]
    lease.save(update_fields=["status", "defaulted_party", "defaulted_at", "decision_reasons"])
    # Operator default: everything back to the tenant. Tenant no-show: a late cancellation.
    fee = escrow.no_show_fee(lease=lease, listing=listing) if party == Lease.Party.TENANT else Decimal("0.00")
    escrow.settle_cancellation(actor=actor, lease=lease, fee=fee, memo=f"Lease {lease.pk}: {party} default")
    defaulter = lease.tenant_id if party == Lease.Party.TENANT else listing.warehouse.owner_id
    record_audit(
        actor=actor,
        action=action,
        target=lease,
        subject_id=defaulter,
        old=old,
        new={**_snapshot(lease), "defaulted_party": party},
        reason=reason,
    )
    _record_credit_event(actor=actor, subject_id=defaulter, kind="lease_defaulted", lease=lease)
    return lease


def report_no_show(*, actor, lease_id: int, reason: str = "") -> Lease:
    """The operator records that the tenant never checked in: allowed once the whole start
    day has passed. The units are released and the tenant's record gets `lease_defaulted`."""
    with transaction.atomic():
        listing, lease = _locked_lease(lease_id=lease_id)
        _require_operator(actor=actor, listing=listing)
        if lease.status == Lease.Status.DEFAULTED:
            return lease
        if lease.status != Lease.Status.APPROVED:
            raise InvalidTransition(f"A {lease.get_status_display().lower()} lease cannot be a no-show.")
        if timezone.localdate() <= lease.start:
            raise InvalidTransition(
                f"A no-show can be recorded from the day after the start ({lease.start.isoformat()}).",
                code="too_early_for_no_show",
            )
        return _default_locked(
            actor=actor,
            listing=listing,
            lease=lease,
            party=Lease.Party.TENANT,
            reason=reason or "The tenant did not check in.",
            action="lease.tenant_no_show",
        )


def withdraw_lease(*, actor, lease_id: int, reason: str) -> Lease:
    """The operator backs out of an approved lease: the units are released and the
    operator's record gets `lease_defaulted`."""
    if not reason.strip():
        raise errors.InvalidInput("Say why the lease is withdrawn.", field_errors={"reason": ["Required."]})
    with transaction.atomic():
        listing, lease = _locked_lease(lease_id=lease_id)
        _require_operator(actor=actor, listing=listing)
        if lease.status == Lease.Status.DEFAULTED:
            return lease
        if lease.status != Lease.Status.APPROVED:
            raise InvalidTransition(f"A {lease.get_status_display().lower()} lease cannot be withdrawn.")
        return _default_locked(
            actor=actor,
            listing=listing,
            lease=lease,
            party=Lease.Party.OPERATOR,
            reason=reason,
            action="lease.operator_withdrew",
        )
