"""Warehouse reads with visibility rules.

- Published listings are public; drafts, paused and closed listings are seen only by the
  operator's members.
- A lease is seen by the tenant's members and by the operator's members, by nobody else
  (the API answers 404 for anyone else).
"""

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import (
    Avg,
    Case,
    CharField,
    Count,
    Exists,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Cast, Concat

from core import grades
from credit.selectors.accounts import subject_ids_acted_for
from warehouses.errors import LeaseNotFound, ListingNotFound, TransferNotFound, WarehouseNotFound
from warehouses.models import (
    CapacityDay,
    Lease,
    LeaseReview,
    LeaseTransfer,
    Listing,
    Warehouse,
)

SORTS = ("price", "-price", "grade", "distance", "newest")
# Registry columns of a listing's operator that no warehouse page or API shows (the free
# text ones): left out of the joined rows.
OPERATOR_UNUSED = tuple(f"warehouse__owner__{name}" for name in ("description", "address", "website"))


@dataclass
class ListingSearch:
    country: str | None = None
    city: str | None = None
    start: date | None = None
    end: date | None = None
    units: int | None = None
    features: tuple[str, ...] = ()
    max_price: Decimal | None = None
    currency: str | None = None
    min_operator_grade: str | None = None
    sort: str = "price"
    lat: float | None = None
    lon: float | None = None

    @property
    def days(self) -> int | None:
        return (self.end - self.start).days if self.start and self.end else None


def search_listings(*, search: ListingSearch) -> QuerySet[Listing]:
    """Published listings matching the search. With a date range, only listings with at
    least `units` (default 1) free on every day of [start, end) that accept such a lease.

    Relies on the invariant that a listing offers the same capacity (`Listing.units`) on
    every day of its window, so only days with reservations need to be looked at: the
    partial index `capacityday_reserved_days` holds exactly those."""
    qs = (
        Listing.objects.filter(status=Listing.Status.PUBLISHED)
        .select_related("warehouse", "warehouse__owner")
        .defer(*OPERATOR_UNUSED)
    )
    if search.country:
        qs = qs.filter(country=search.country.upper())
    if search.city:
        qs = qs.filter(warehouse__city__iexact=search.city)
    for feature in search.features:
        qs = qs.filter(warehouse__feature_tags__contains=f" {feature} ")
    if search.max_price is not None:
        qs = qs.filter(price_per_unit_day__lte=search.max_price)
    if search.currency:
        qs = qs.filter(currency=search.currency.upper())
    if search.min_operator_grade:
        qs = qs.filter(warehouse__owner__grade__in=grades.at_least_grades(search.min_operator_grade))
    units = search.units or 1
    if search.units:
        qs = qs.filter(units__gte=units, min_units__lte=units)
    if search.start and search.end:
        qs = qs.filter(
            available_from__lte=search.start, available_until__gte=search.end, min_days__lte=search.days
        ).exclude(
            Exists(
                CapacityDay.objects.filter(
                    Q(reserved__gt=0),
                    Q(reserved__gt=F("capacity") - units),
                    listing_id=OuterRef("pk"),
                    day__gte=search.start,
                    day__lt=search.end,
                )
            )
        )
    if search.sort in ("grade",):
        qs = qs.annotate(
            operator_rank=Case(
                *[When(warehouse__owner__grade=g, then=Value(grades.RANK[g])) for g in grades.LADDER],
                default=Value(0),
                output_field=IntegerField(),
            )
        ).order_by("-operator_rank", "price_per_unit_day", "id")
    elif search.sort == "distance" and search.lat is not None and search.lon is not None:
        # Equirectangular approximation: fine for ranking, and plain arithmetic (no PostGIS).
        k = math.cos(math.radians(search.lat))
        dlat = Cast("warehouse__latitude", FloatField()) - Value(float(search.lat))
        dlon = (Cast("warehouse__longitude", FloatField()) - Value(float(search.lon))) * Value(k)
        qs = qs.annotate(distance_rank=dlat * dlat + dlon * dlon).order_by("distance_rank", "id")
    elif search.sort == "-price":
        qs = qs.order_by("-price_per_unit_day", "id")
    elif search.sort == "newest":
        qs = qs.order_by("-created_at", "-id")
    else:
        qs = qs.order_by("price_per_unit_day", "id")
    return qs


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def listings_visible_to(*, user) -> QuerySet[Listing]:
    own = subject_ids_acted_for(user=user)
    return Listing.objects.filter(Q(status=Listing.Status.PUBLISHED) | Q(warehouse__owner_id__in=own)).select_related(
        "warehouse", "warehouse__owner"
    )


def get_listing(*, user, listing_id: int) -> Listing:
    listing = listings_visible_to(user=user).filter(pk=listing_id).first()
    if listing is None:
        raise ListingNotFound()
    return listing


def warehouses_of(*, user) -> QuerySet[Warehouse]:
    return Warehouse.objects.filter(owner_id__in=subject_ids_acted_for(user=user)).select_related("owner")


def get_own_warehouse(*, user, warehouse_id: int) -> Warehouse:
    warehouse = warehouses_of(user=user).filter(pk=warehouse_id).first()
    if warehouse is None:
        raise WarehouseNotFound()
    return warehouse


def own_listings(*, user) -> QuerySet[Listing]:
    return (
        Listing.objects.filter(warehouse__owner_id__in=subject_ids_acted_for(user=user))
        .select_related("warehouse", "warehouse__owner")
        .order_by("warehouse__name", "-created_at", "-id")
    )


def get_own_listing(*, user, listing_id: int) -> Listing:
    listing = own_listings(user=user).filter(pk=listing_id).first()
    if listing is None:
        raise ListingNotFound()
    return listing


def leases_visible_to(*, user, role: str | None = None) -> QuerySet[Lease]:
    """role: "tenant" (leases the user's subjects took), "operator" (leases of their
    listings) or None (both)."""
    subjects = subject_ids_acted_for(user=user)
    if role == "tenant":
        condition = Q(tenant_id__in=subjects)
    elif role == "operator":
        condition = Q(listing__warehouse__owner_id__in=subjects)
    else:
        condition = Q(tenant_id__in=subjects) | Q(listing__warehouse__owner_id__in=subjects)
    return Lease.objects.filter(condition).select_related(
        "tenant", "listing", "listing__warehouse", "listing__warehouse__owner"
    )


def get_lease(*, user, lease_id: int) -> Lease:
    lease = leases_visible_to(user=user).filter(pk=lease_id).first()
    if lease is None:
        raise LeaseNotFound()
    return lease


def pending_requests(*, user) -> QuerySet[Lease]:
    """Held requests awaiting this operator's answer, the nearest deadline first."""
    return leases_visible_to(user=user, role="operator").filter(status=Lease.Status.HELD).order_by("hold_expires_at")


def calendar(*, listing: Listing, start: date, end: date) -> list[CapacityDay]:
    return list(CapacityDay.objects.filter(listing=listing, day__gte=start, day__lt=end).order_by("day"))


# --- Transfers and reviews ------------------------------------------------------------------


def transfers_visible_to(*, user, role: str | None = None) -> QuerySet[LeaseTransfer]:
    """Transfers the user is party to: as transferor ("from"), recipient ("to") or the
    listing's operator ("operator"); role None: any of them. Nobody else sees them."""
    subjects = subject_ids_acted_for(user=user)
    conditions = {
        "from": Q(from_subject_id__in=subjects),
        "to": Q(to_subject_id__in=subjects),
        "operator": Q(lease__listing__warehouse__owner_id__in=subjects),
    }
    if role in conditions:
        condition = conditions[role]
    else:
        condition = conditions["from"] | conditions["to"] | conditions["operator"]
    return LeaseTransfer.objects.filter(condition).select_related(
        "lease",
        "lease__listing",
        "lease__listing__warehouse",
        "lease__listing__warehouse__owner",
        "from_subject",
        "to_subject",
        "institution",
        "recipient_lease",
    )


def get_transfer(*, user, transfer_id: int) -> LeaseTransfer:
    transfer = transfers_visible_to(user=user).filter(pk=transfer_id).first()
    if transfer is None:
        raise TransferNotFound()
    return transfer


def incoming_transfer_offers(*, user) -> QuerySet[LeaseTransfer]:
    """Offers waiting for the user's subjects to accept, the soonest to lapse first."""
    return (
        transfers_visible_to(user=user, role="to")
        .filter(status=LeaseTransfer.Status.OFFERED)
        .order_by("expires_at", "id")
    )


def transfers_awaiting_consent(*, user) -> QuerySet[LeaseTransfer]:
    return (
        transfers_visible_to(user=user, role="operator")
        .filter(status=LeaseTransfer.Status.AWAITING_OPERATOR)
        .order_by("expires_at", "id")
    )


def transfer_history(*, lease: Lease) -> list[LeaseTransfer]:
    """Transfers of this lease, the one that created it, and, for a transferor's
    continuation, those of the lease it was split from (call only for a lease the user may
    see: a recipient does not see the transferor's other offers)."""
    condition = Q(lease_id=lease.pk) | Q(recipient_lease_id=lease.pk)
    if lease.parent_id and lease.parent.tenant_id == lease.tenant_id:
        condition |= Q(lease_id=lease.parent_id)
    return list(
        LeaseTransfer.objects.filter(condition)
        .select_related("from_subject", "to_subject", "recipient_lease")
        .order_by("-created_at", "-id")
    )


def lease_children(*, lease: Lease) -> list[Lease]:
    return list(lease.children.select_related("tenant").order_by("start", "id"))


def lease_reviews(*, lease: Lease) -> list[LeaseReview]:
    return list(LeaseReview.objects.filter(lease=lease).select_related("reviewer", "reviewed").order_by("id"))


def rating_summary(*, subject_id: int) -> dict:
    """{count, average} of the stars a subject received over all its leases."""
    summary = LeaseReview.objects.filter(reviewed_id=subject_id).aggregate(count=Count("id"), average=Avg("stars"))
    if summary["average"] is not None:
        summary["average"] = round(float(summary["average"]), 2)
    return summary


def listing_rating_summary(*, listing_id: int) -> dict:
    """Stars tenants gave the operator on leases of one listing: {count, average}."""
    listing = Listing.objects.filter(pk=listing_id).values("warehouse__owner_id").first()
    if listing is None:
        return {"count": 0, "average": None}
    summary = LeaseReview.objects.filter(
        lease__listing_id=listing_id, reviewed_id=listing["warehouse__owner_id"]
    ).aggregate(count=Count("id"), average=Avg("stars"))
    if summary["average"] is not None:
        summary["average"] = round(float(summary["average"]), 2)
    return summary


# --- Escrow and disputes (the money lives in payments, keyed by lease.escrow_ref) -----------


def escrow_ref_expression():
    """`Lease.escrow_ref` in SQL: the lease's `escrow_reference`, or its own `lease:<id>`."""
    return Case(
        When(escrow_reference="", then=Concat(Value("lease:"), Cast("pk", CharField()))),
        default=F("escrow_reference"),
        output_field=CharField(),
    )


def escrow_references_visible_to(*, user) -> QuerySet:
    """The escrow references of every lease the user is party to (tenant or operator),
    each once, in order. A query, not a list: filtering by it (`reference__in=`) is one
    statement with a subquery, however many leases the user has."""
    return (
        leases_visible_to(user=user)
        .annotate(ref=escrow_ref_expression())
        .order_by("ref")
        .values_list("ref", flat=True)
        .distinct()
    )


def disputes_visible_to(*, user):
    """Platform staff see every dispute; a party (tenant or operator of a lease the escrow
    guards) sees the disputes about it; anyone else, none."""
    from payments.selectors import disputes_for

    if getattr(user, "is_staff", False):
        return disputes_for()
    return disputes_for(references=escrow_references_visible_to(user=user))


def get_dispute(*, user, dispute_id: int):
    from payments.errors import DisputeNotFound

    dispute = disputes_visible_to(user=user).filter(pk=dispute_id).first()
    if dispute is None:
        raise DisputeNotFound()
    return dispute


def find_transfer_recipient(*, country: str, text: str):
    """The subject a lease is offered to, by registration number or else by exact legal
    name (only when one subject of that country has it)."""
    from credit.models import Subject
    from credit.selectors.accounts import find_subject_by_registration

    text = (text or "").strip()
    if not text:
        return None
    found = find_subject_by_registration(country=country, registration_number=text)
    if found is not None:
        return found
    named = list(Subject.objects.filter(country=country.upper(), legal_name__iexact=text)[:2])
    return named[0] if len(named) == 1 else None
