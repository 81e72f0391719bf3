"""Warehouses and listings: operators describe their sites and offer capacity."""

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.audit import record_audit, save_audited
from core.countries import country_codes, currency_codes
from core.errors import Conflict, InvalidInput, NotAllowed
from credit.models import Subject
from credit.selectors.accounts import is_member
from warehouses.errors import ListingNotFound, WarehouseNotFound
from warehouses.models import Listing, Warehouse
from warehouses.services import gate, ledger

WAREHOUSE_FIELDS = [
    "name",
    "country",
    "city",
    "address",
    "latitude",
    "longitude",
    "capacity_unit",
    "customs_status",
    "temperature_min_c",
    "temperature_max_c",
    "hazmat_classes",
    "services",
    "certifications",
]
TERMS_FIELDS = [
    "title",
    "price_per_unit_day",
    "currency",
    "min_units",
    "min_days",
    "booking_mode",
    "min_tenant_grade",
    "free_cancellation_days",
    "cancellation_fee_percent",
    "transfer_requires_consent",
]
# Bounds of the terms, so that no input reaches the database out of its column's range
# (a 500): prices are numeric(12, 4); day counts beyond ten years mean nothing here.
MAX_PRICE = Decimal("100000000")
MAX_TERM_DAYS = 3660
STATUS_TRANSITIONS = {
    Listing.Status.DRAFT: {Listing.Status.PUBLISHED, Listing.Status.CLOSED},
    Listing.Status.PUBLISHED: {Listing.Status.PAUSED, Listing.Status.CLOSED},
    Listing.Status.PAUSED: {Listing.Status.PUBLISHED, Listing.Status.CLOSED},
    Listing.Status.CLOSED: set(),
}


def _json(value):
    if isinstance(value, (Decimal, date)):
        return str(value)
    return value


def _validate_warehouse(values: dict) -> None:
    field_errors: dict[str, list[str]] = {}
    if values.get("country") not in country_codes():
        field_errors["country"] = ["Use an ISO 3166-1 alpha-2 code such as NL."]
    lat, lon = values.get("latitude"), values.get("longitude")
    if lat is None or not (-90 <= Decimal(str(lat)) <= 90):
        field_errors["latitude"] = ["Between -90 and 90."]
    if lon is None or not (-180 <= Decimal(str(lon)) <= 180):
        field_errors["longitude"] = ["Between -180 and 180."]
    tmin, tmax = values.get("temperature_min_c"), values.get("temperature_max_c")
    if tmin is not None and tmax is not None and tmin > tmax:
        field_errors["temperature_max_c"] = ["The maximum must not be below the minimum."]
    bad_hazmat = set(values.get("hazmat_classes") or []) - set(Warehouse.HAZMAT_CLASSES)
    if bad_hazmat:
        field_errors["hazmat_classes"] = [f"Unknown UN classes: {sorted(bad_hazmat)} (use 1 to 9)."]
    bad_services = set(values.get("services") or []) - set(Warehouse.Service.values)
    if bad_services:
        field_errors["services"] = [f"Unknown services: {sorted(bad_services)}."]
    if field_errors:
        raise InvalidInput(next(iter(field_errors.values()))[0], field_errors=field_errors)


def create_warehouse(*, actor, owner_id: int, **values) -> Warehouse:
    if not is_member(user=actor, subject_id=owner_id):
        raise NotAllowed("You do not act for this subject.", code="not_a_member")
    values = {k: v for k, v in values.items() if k in WAREHOUSE_FIELDS}
    values["country"] = (values.get("country") or "").upper()
    _validate_warehouse(values)
    with transaction.atomic():
        owner = Subject.objects.get(pk=owner_id)
        gate.check_operator(owner=owner)
        warehouse = Warehouse(owner=owner, **values)
        warehouse.feature_tags = warehouse.compute_feature_tags()
        warehouse.save()
        record_audit(
            actor=actor,
            action="warehouse.created",
            target=warehouse,
            subject_id=owner_id,
            new={k: _json(getattr(warehouse, k)) for k in WAREHOUSE_FIELDS},
        )
    return warehouse


def update_warehouse(*, actor, warehouse_id: int, **values) -> Warehouse:
    with transaction.atomic():
        warehouse = Warehouse.objects.select_for_update(of=("self",)).filter(pk=warehouse_id).first()
        if warehouse is None or not is_member(user=actor, subject_id=warehouse.owner_id):
            raise WarehouseNotFound()
        changes = {k: v for k, v in values.items() if k in WAREHOUSE_FIELDS and getattr(warehouse, k) != v}
        if not changes:
            return warehouse
        merged = {k: getattr(warehouse, k) for k in WAREHOUSE_FIELDS} | changes
        merged["country"] = (merged.get("country") or "").upper()
        _validate_warehouse(merged)
        old = {k: _json(getattr(warehouse, k)) for k in changes}
        for k in changes:
            setattr(warehouse, k, merged[k])
        warehouse.feature_tags = warehouse.compute_feature_tags()
        warehouse.save()
        if "country" in changes:
            Listing.objects.filter(warehouse=warehouse).update(country=warehouse.country)
        record_audit(
            actor=actor,
            action="warehouse.updated",
            target=warehouse,
            subject_id=warehouse.owner_id,
            old=old,
            new={k: _json(getattr(warehouse, k)) for k in changes},
        )
    return warehouse


def _validate_terms(values: dict, *, units: int) -> dict[str, list[str]]:
    field_errors: dict[str, list[str]] = {}
    if "currency" in values and values["currency"] not in currency_codes():
        field_errors["currency"] = ["Unknown currency: use an ISO 4217 code such as EUR."]
    if "price_per_unit_day" in values and not values["price_per_unit_day"] > 0:
        field_errors["price_per_unit_day"] = ["The price must be above zero."]
    if "min_units" in values and not (1 <= values["min_units"] <= units):
        field_errors["min_units"] = [f"Between 1 and the {units} units offered."]
    if "price_per_unit_day" in values and values["price_per_unit_day"] >= MAX_PRICE:
        field_errors["price_per_unit_day"] = [f"Below {MAX_PRICE} per unit and day."]
    if "min_days" in values and not (1 <= values["min_days"] <= MAX_TERM_DAYS):
        field_errors["min_days"] = [f"Between 1 and {MAX_TERM_DAYS} days."]
    if "free_cancellation_days" in values and not (0 <= values["free_cancellation_days"] <= MAX_TERM_DAYS):
        field_errors["free_cancellation_days"] = [f"Between 0 and {MAX_TERM_DAYS} days."]
    if "cancellation_fee_percent" in values and not (0 <= values["cancellation_fee_percent"] <= 100):
        field_errors["cancellation_fee_percent"] = ["Between 0 and 100."]
    if values.get("min_tenant_grade") and values["min_tenant_grade"] not in Subject.Grade.values:
        field_errors["min_tenant_grade"] = ["Unknown grade."]
    return field_errors


def create_listing(
    *,
    actor,
    warehouse_id: int,
    units: int,
    available_from: date,
    available_until: date,
    publish: bool = False,
    **terms,
) -> Listing:
    warehouse = Warehouse.objects.select_related("owner").filter(pk=warehouse_id).first()
    if warehouse is None or not is_member(user=actor, subject_id=warehouse.owner_id):
        raise WarehouseNotFound()
    terms = {k: v for k, v in terms.items() if k in TERMS_FIELDS}
    terms.setdefault("min_units", 1)
    terms["currency"] = (terms.get("currency") or "").upper()
    field_errors = _validate_terms(terms, units=max(units, 1))
    if units < 1:
        field_errors["units"] = ["Offer at least one unit."]
    if available_until <= available_from:
        field_errors["available_until"] = ["The window must end after it starts (the end day is not included)."]
    elif (available_until - available_from).days > settings.ENTREPOT.get("WAREHOUSE_MAX_LISTING_DAYS", 731):
        field_errors["available_until"] = ["A listing's window is at most two years; add another listing later."]
    if available_from < timezone.localdate():
        field_errors["available_from"] = ["The window cannot start in the past."]
    if field_errors:
        raise InvalidInput(next(iter(field_errors.values()))[0], field_errors=field_errors)
    with transaction.atomic():
        gate.check_operator(owner=warehouse.owner)
        listing = Listing.objects.create(
            warehouse=warehouse,
            country=warehouse.country,
            units=units,
            available_from=available_from,
            available_until=available_until,
            status=Listing.Status.PUBLISHED if publish else Listing.Status.DRAFT,
            **terms,
        )
        ledger.create_days(listing=listing, start=available_from, end=available_until)
        record_audit(
            actor=actor,
            action="listing.created",
            target=listing,
            subject_id=warehouse.owner_id,
            new={
                "units": units,
                "available_from": available_from.isoformat(),
                "available_until": available_until.isoformat(),
                "status": listing.status,
                **{k: _json(v) for k, v in terms.items()},
            },
        )
    return listing


def _locked_own_listing(*, actor, listing_id: int) -> Listing:
    listing = ledger.lock_listing(listing_id=listing_id)
    if not is_member(user=actor, subject_id=listing.warehouse.owner_id):
        raise ListingNotFound()
    return listing


def change_listing_capacity(*, actor, listing_id: int, units: int) -> Listing:
    """Change the units offered on every day. Never below what any day has reserved."""
    if units < 1:
        raise InvalidInput("Offer at least one unit.", field_errors={"units": ["At least one unit."]})
    with transaction.atomic():
        listing = _locked_own_listing(actor=actor, listing_id=listing_id)
        if listing.units == units:
            return listing
        ledger.set_capacity(listing=listing, units=units)
        save_audited(
            listing,
            {"units": units, "min_units": min(listing.min_units, units)},
            actor=actor,
            action="listing.capacity_changed",
            subject_id=listing.warehouse.owner_id,
            also_save=("updated_at",),
        )
    return listing


def extend_listing(*, actor, listing_id: int, available_until: date) -> Listing:
    """Offer the listing for longer (the window only grows; shrinking would strand leases)."""
    with transaction.atomic():
        listing = _locked_own_listing(actor=actor, listing_id=listing_id)
        if available_until == listing.available_until:
            return listing
        if available_until < listing.available_until:
            raise InvalidInput(
                "The window can only be extended.",
                field_errors={"available_until": ["Choose a later date than the current end."]},
            )
        # The same bound as a new listing, counted from today for a running one: an
        # extension to 9999-12-31 would write millions of ledger days.
        max_days = settings.ENTREPOT.get("WAREHOUSE_MAX_LISTING_DAYS", 731)
        if (available_until - max(listing.available_from, timezone.localdate())).days > max_days:
            raise InvalidInput(
                "A listing is offered at most two years ahead.",
                field_errors={"available_until": [f"At most {max_days} days ahead; add another listing later."]},
            )
        ledger.create_days(listing=listing, start=listing.available_until, end=available_until)
        save_audited(
            listing,
            {"available_until": available_until},
            actor=actor,
            action="listing.extended",
            subject_id=listing.warehouse.owner_id,
            old={"available_until": listing.available_until.isoformat()},
            new={"available_until": available_until.isoformat()},
            also_save=("updated_at",),
        )
    return listing


def update_listing_terms(*, actor, listing_id: int, **terms) -> Listing:
    """Price and terms apply to new leases; existing leases keep the price they were booked at."""
    with transaction.atomic():
        listing = _locked_own_listing(actor=actor, listing_id=listing_id)
        changes = {k: v for k, v in terms.items() if k in TERMS_FIELDS and getattr(listing, k) != v}
        if "currency" in changes:
            changes["currency"] = (changes["currency"] or "").upper()
        if not changes:
            return listing
        field_errors = _validate_terms(changes, units=listing.units)
        if field_errors:
            raise InvalidInput(next(iter(field_errors.values()))[0], field_errors=field_errors)
        save_audited(
            listing,
            changes,
            actor=actor,
            action="listing.terms_changed",
            subject_id=listing.warehouse.owner_id,
            old={k: _json(getattr(listing, k)) for k in changes},
            new={k: _json(v) for k, v in changes.items()},
            also_save=("updated_at",),
        )
    return listing


def set_listing_status(*, actor, listing_id: int, status: str, reason: str = "") -> Listing:
    with transaction.atomic():
        listing = _locked_own_listing(actor=actor, listing_id=listing_id)
        if listing.status == status:
            return listing
        if status not in STATUS_TRANSITIONS.get(listing.status, set()):
            raise Conflict(
                f"A {listing.status} listing cannot become {status}.",
                code="invalid_listing_transition",
                field_errors={
                    "status": [f"Allowed: {', '.join(sorted(STATUS_TRANSITIONS[listing.status])) or 'none'}."]
                },
            )
        if status == Listing.Status.PUBLISHED:
            gate.check_operator(owner=listing.warehouse.owner)
        save_audited(
            listing,
            {"status": status},
            actor=actor,
            action="listing.status_changed",
            subject_id=listing.warehouse.owner_id,
            reason=reason,
            also_save=("updated_at",),
        )
    return listing
