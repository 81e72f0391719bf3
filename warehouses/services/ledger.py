"""The per-day capacity ledger and the per-listing lock.

Locking protocol (every writer of a listing's ledger follows it):
1. Open one transaction.
2. `lock_listing()` takes the listing's row lock (`SELECT ... FOR UPDATE OF` the listing
   only) with a lock timeout; a timeout or deadlock becomes `core.errors.Busy` (409 with
   Retry-After). Then, if needed, lock the lease row. Never the other way round.
3. Change `reserved` in a single UPDATE over the range that only touches days with room
   (`reserved + n <= capacity`) and counts them: all days, or nothing is kept. The CHECK
   constraints (0 <= reserved <= capacity) catch anything a code path forgets; an
   IntegrityError becomes NotEnoughCapacity.
"""

from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Count, F, Max, Min

from core.errors import Busy, InvalidInput
from warehouses import hotpath
from warehouses.errors import ListingNotFound, NotEnoughCapacity
from warehouses.models import CapacityDay, Listing

LOCK_ERROR_CODES = {"55P03", "40P01", "40001"}  # lock_not_available, deadlock, serialization


def _config(name: str, default):
    return getattr(settings, "ENTREPOT", {}).get(name, default)


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days)]


def _is_lock_error(exc: OperationalError) -> bool:
    cause = exc.__cause__
    code = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    return code in LOCK_ERROR_CODES


def lock_listing(*, listing_id: int) -> Listing:
    """Must run inside transaction.atomic(). Returns the locked listing (warehouse and
    owner loaded, not locked; the owner with `has_active_blacklist_entry` set: the gate
    needs no query of its own). One prepared statement (warehouses.hotpath)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lock_listing() needs an open transaction")
    if not 0 < listing_id < 2**63:
        raise ListingNotFound()
    try:
        listing = hotpath.select_listing_for_update(
            listing_id=listing_id, lock_timeout_ms=_config("WAREHOUSE_LOCK_TIMEOUT_MS", 3000)
        )
    except OperationalError as exc:
        if _is_lock_error(exc):
            raise Busy("The listing is busy with other bookings; retry shortly.") from exc
        raise
    if listing is None:
        raise ListingNotFound()
    return listing


def create_days(*, listing: Listing, start: date, end: date) -> None:
    CapacityDay.objects.bulk_create(
        [CapacityDay(listing=listing, day=day, capacity=listing.units) for day in days_between(start, end)],
        batch_size=1000,
    )


def availability(*, listing_id: int, start: date, end: date) -> dict:
    """Days in the ledger over [start, end) and the smallest free count among them."""
    return CapacityDay.objects.filter(listing_id=listing_id, day__gte=start, day__lt=end).aggregate(
        days=Count("id"), min_free=Min(F("capacity") - F("reserved")), max_reserved=Max("reserved")
    )


def first_short_day(*, listing_id: int, start: date, end: date, units: int) -> CapacityDay | None:
    return (
        CapacityDay.objects.filter(listing_id=listing_id, day__gte=start, day__lt=end)
        .annotate(free_units=F("capacity") - F("reserved"))
        .filter(free_units__lt=units)
        .order_by("day")
        .first()
    )


def reserve(*, listing: Listing, start: date, end: date, units: int) -> None:
    """Call with the listing locked. Raises NotEnoughCapacity naming the first short day.

    One statement on the way that succeeds: a single UPDATE adds the units to every day of
    the range that can take them and returns those days. When that is not every day of the
    range, the days it did change are put back and the reason is worked out (outside the
    window, or the first short day); the CHECK constraints stay the last line of defence."""
    days = (end - start).days
    try:
        changed = hotpath.reserve_days(listing_id=listing.pk, start=start, end=end, units=units)
    except IntegrityError as exc:  # the CHECK caught an overbooking
        raise NotEnoughCapacity() from exc
    if len(changed) == days:
        return
    if changed:  # leave the ledger as it was, whatever the caller does with the error
        CapacityDay.objects.filter(pk__in=changed).update(reserved=F("reserved") - units)
    stats = availability(listing_id=listing.pk, start=start, end=end)
    if stats["days"] != days:
        raise InvalidInput(
            "The range is outside the listing's window.",
            code="outside_window",
            field_errors={"end": ["The listing is not offered on every day of this range."]},
        )
    short = first_short_day(listing_id=listing.pk, start=start, end=end, units=units)
    free = short.capacity - short.reserved if short else 0
    raise NotEnoughCapacity(
        f"Only {free} units are free on {short.day.isoformat() if short else start.isoformat()}; "
        f"{units} were asked for.",
        field_errors={"units": [f"At most {stats['min_free'] or 0} units are free on every day of this range."]},
    )


def release(*, listing: Listing, start: date, end: date, units: int) -> None:
    """Give a lease's units back. Call with the listing locked."""
    CapacityDay.objects.filter(listing_id=listing.pk, day__gte=start, day__lt=end).update(
        reserved=F("reserved") - units
    )


def set_capacity(*, listing: Listing, units: int) -> None:
    """Change the capacity of every day of a locked listing. Never below what is reserved."""
    from warehouses.errors import CapacityBelowReserved

    busiest = CapacityDay.objects.filter(listing_id=listing.pk, reserved__gt=units).order_by("-reserved", "day").first()
    if busiest is not None:
        raise CapacityBelowReserved(
            f"{busiest.reserved} units are already reserved on {busiest.day.isoformat()}; "
            f"capacity cannot go below that.",
            field_errors={"units": [f"At least {busiest.reserved} units are reserved on {busiest.day.isoformat()}."]},
        )
    try:
        with transaction.atomic():
            CapacityDay.objects.filter(listing_id=listing.pk).update(capacity=units)
    except IntegrityError as exc:
        raise CapacityBelowReserved() from exc


def reconcile(*, listing_ids: list[int] | None = None) -> list[dict]:
    """Recompute every day's reservations from the leases and return the days that drift:
    [{listing_id, day, reserved, expected}]. One set-based query."""
    return hotpath.reservation_drift(listing_ids=listing_ids)


def report_drift(*, listing_ids: list[int] | None = None) -> list[dict]:
    """Reconcile and report: each listing whose ledger drifts from its leases gets an
    audit entry (`ledger.drift_detected`) listing the days. Nothing is changed: drift
    means a bug, and a person decides the fix."""
    import logging

    from core.audit import record_audit

    if listing_ids is None:  # everything, in chunks of listings so no query runs for long
        all_ids = list(Listing.objects.order_by("id").values_list("id", flat=True))
        drift = []
        for first in range(0, len(all_ids), 2000):
            drift += reconcile(listing_ids=all_ids[first : first + 2000])
    else:
        drift = reconcile(listing_ids=listing_ids)
    by_listing: dict[int, list[dict]] = {}
    for row in drift:
        by_listing.setdefault(row["listing_id"], []).append(row)
    for listing_id, days in by_listing.items():
        listing = Listing.objects.select_related("warehouse").get(pk=listing_id)
        logging.getLogger(__name__).error("Ledger drift on listing %s: %s days", listing_id, len(days))
        with transaction.atomic():
            record_audit(
                actor=None,
                action="ledger.drift_detected",
                target=listing,
                subject_id=listing.warehouse.owner_id,
                new={
                    "days": [
                        {"day": r["day"].isoformat(), "reserved": r["reserved"], "expected": r["expected"]}
                        for r in days[:100]
                    ],
                    "count": len(days),
                },
                reason="The ledger's reservations differ from the leases that hold units.",
            )
    return drift
