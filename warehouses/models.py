"""Overseas-warehouse capacity marketplace (issue 5).

Dates are calendar days and every range is half-open: a listing is offered on the days
`available_from <= day < available_until`, a lease occupies `start <= day < end`, so a
lease ending on a day leaves that day free.

No overbooking: each listing has one `CapacityDay` row per offered day. The database
refuses any row whose `reserved` leaves `[0, capacity]`; services change `reserved` with
F() expressions while holding the listing's row lock (see warehouses/services.py).
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from credit.models import CURRENCY_VALIDATOR, Subject


class Warehouse(models.Model):
    class CapacityUnit(models.TextChoices):
        PALLET = "pallet", "Pallet positions"
        SQM = "sqm", "Square metres (m²)"
        CBM = "cbm", "Cubic metres (m³)"

    class CustomsStatus(models.TextChoices):
        NONE = "none", "Not bonded"
        BONDED = "bonded", "Bonded warehouse"
        FREE_ZONE = "free_zone", "Free-trade zone"

    class Service(models.TextChoices):
        PICK_AND_PACK = "pick_and_pack", "Pick and pack"
        KITTING = "kitting", "Kitting"
        LABELLING = "labelling", "Labelling"
        RETURNS = "returns", "Returns handling"
        CROSS_DOCKING = "cross_docking", "Cross-docking"
        LAST_MILE = "last_mile", "Last-mile dispatch"

    HAZMAT_CLASSES = [str(n) for n in range(1, 10)]  # UN dangerous-goods classes 1-9

    owner = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="warehouses")
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    city = models.CharField(max_length=120)
    address = models.CharField(max_length=500)
    latitude = models.DecimalField(max_digits=9, decimal_places=6)
    longitude = models.DecimalField(max_digits=9, decimal_places=6)
    capacity_unit = models.CharField(max_length=10, choices=CapacityUnit.choices, default=CapacityUnit.PALLET)
    customs_status = models.CharField(max_length=10, choices=CustomsStatus.choices, default=CustomsStatus.NONE)
    temperature_min_c = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    temperature_max_c = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    hazmat_classes = models.JSONField(default=list, blank=True, help_text="UN classes, e.g. ['3', '8']")
    services = models.JSONField(default=list, blank=True)
    certifications = models.JSONField(default=list, blank=True, help_text="e.g. ISO 9001, TAPA FSR, AEO")
    # Space-padded search tags derived from the features above (" bonded temp hazmat:3 ... ")
    # so every feature filter is one substring test on one column.
    feature_tags = models.CharField(max_length=1000, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["country", "city"])]
        constraints = [
            models.CheckConstraint(condition=Q(country__regex=r"^[A-Z]{2}$"), name="warehouse_country_alpha2"),
            models.CheckConstraint(
                condition=Q(latitude__gte=-90) & Q(latitude__lte=90) & Q(longitude__gte=-180) & Q(longitude__lte=180),
                name="warehouse_coordinates_range",
            ),
            models.CheckConstraint(
                condition=Q(temperature_min_c__isnull=True)
                | Q(temperature_max_c__isnull=True)
                | Q(temperature_min_c__lte=F("temperature_max_c")),
                name="warehouse_temperature_order",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.city}, {self.country})"

    def compute_feature_tags(self) -> str:
        tags = [self.customs_status] if self.customs_status != self.CustomsStatus.NONE else []
        if self.temperature_min_c is not None or self.temperature_max_c is not None:
            tags.append("temperature_controlled")
        tags += [f"hazmat:{c}" for c in self.hazmat_classes]
        if self.hazmat_classes:
            tags.append("hazmat")
        tags += list(self.services)
        tags += [f"cert:{c.replace(' ', '_').lower()}" for c in self.certifications]
        return " " + " ".join(tags) + " " if tags else ""


class Listing(models.Model):
    """Spare capacity offered over [available_from, available_until). The same number of
    units is offered on every day of the window; the ledger mirrors it per day."""

    class BookingMode(models.TextChoices):
        INSTANT = "instant", "Instant booking"
        REQUEST = "request", "Request and approve (24-hour answer)"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        PAUSED = "paused", "Paused"
        CLOSED = "closed", "Closed"

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="listings")
    title = models.CharField(max_length=200)
    units = models.PositiveIntegerField(help_text="Capacity offered on each day, in the warehouse's unit")
    available_from = models.DateField()
    available_until = models.DateField(help_text="Exclusive: offered on days before this date")
    price_per_unit_day = models.DecimalField(max_digits=12, decimal_places=4)
    currency = models.CharField(max_length=3, validators=[CURRENCY_VALIDATOR])
    min_units = models.PositiveIntegerField(default=1)
    min_days = models.PositiveIntegerField(default=1)
    booking_mode = models.CharField(max_length=10, choices=BookingMode.choices, default=BookingMode.REQUEST)
    min_tenant_grade = models.CharField(
        max_length=1, choices=Subject.Grade.choices, blank=True, help_text="Blank: any grade"
    )
    free_cancellation_days = models.PositiveIntegerField(
        default=7, help_text="Cancelling at least this many days before the start is free"
    )
    cancellation_fee_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=0, help_text="Of the lease price, when cancelled later"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    transfer_requires_consent = models.BooleanField(
        default=True, help_text="A tenant's lease transfer needs the operator's consent"
    )
    # Copied from the warehouse (kept in step by the services) so that a country search
    # walks one index in price order instead of joining every warehouse.
    country = models.CharField(max_length=2, editable=False, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "available_from", "available_until"]),
            models.Index(fields=["status", "price_per_unit_day"]),
            models.Index(fields=["status", "country", "price_per_unit_day", "id"], name="listing_search_country"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(available_until__gt=F("available_from")), name="listing_window_positive"
            ),
            models.CheckConstraint(condition=Q(units__gte=1), name="listing_units_positive"),
            models.CheckConstraint(condition=Q(price_per_unit_day__gt=0), name="listing_price_positive"),
            models.CheckConstraint(
                condition=Q(min_units__gte=1) & Q(min_units__lte=F("units")), name="listing_min_units_range"
            ),
            models.CheckConstraint(condition=Q(min_days__gte=1), name="listing_min_days_positive"),
            models.CheckConstraint(
                condition=Q(cancellation_fee_percent__gte=0) & Q(cancellation_fee_percent__lte=100),
                name="listing_cancellation_fee_percent",
            ),
        ]

    def __str__(self):
        return f"{self.title} ({self.units} {self.warehouse.capacity_unit})"


class CapacityDay(models.Model):
    """The per-day capacity ledger of a listing. The CHECK constraints are the last line of
    defence against overbooking: no code path can commit a day with reserved < 0 or
    reserved > capacity."""

    # No index of its own: the unique (listing, day) index serves every look-up by listing,
    # and one index fewer to write on each day a lease reserves.
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="capacity_days", db_index=False)
    day = models.DateField()
    capacity = models.PositiveIntegerField()
    reserved = models.IntegerField(default=0)

    class Meta:
        ordering = ["listing", "day"]
        constraints = [
            models.UniqueConstraint(fields=["listing", "day"], name="capacityday_unique_listing_day"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="capacityday_reserved_nonnegative"),
            models.CheckConstraint(condition=Q(reserved__lte=F("capacity")), name="capacityday_not_overbooked"),
        ]
        indexes = [
            # Search only needs the days that have reservations at all.
            models.Index(fields=["listing", "day"], condition=Q(reserved__gt=0), name="capacityday_reserved_days"),
        ]

    def __str__(self):
        return f"{self.listing_id} {self.day}: {self.reserved}/{self.capacity}"

    @property
    def free(self) -> int:
        return self.capacity - self.reserved


class Lease(models.Model):
    """Units of a listing for [start, end). `held`, `approved` and `active` leases (and
    `completed` ones, whose days are used) count against the ledger."""

    class Status(models.TextChoices):
        HELD = "held", "Requested, awaiting the operator"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Expired (no answer in time)"
        ACTIVE = "active", "Active (checked in)"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        DEFAULTED = "defaulted", "Defaulted"
        TRANSFERRED = "transferred", "Transferred (replaced by its split leases)"

    class Party(models.TextChoices):
        TENANT = "tenant", "Tenant"
        OPERATOR = "operator", "Operator"

    # A `transferred` lease holds nothing itself: the leases split from it (`parent`) carry
    # exactly its reservations, day by day.
    RESERVING = (Status.HELD, Status.APPROVED, Status.ACTIVE, Status.COMPLETED)

    # Indexed by the (listing, status) and (tenant, status) indexes below, not on their own.
    listing = models.ForeignKey(Listing, on_delete=models.PROTECT, related_name="leases", db_index=False)
    tenant = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="leases", db_index=False)
    units = models.PositiveIntegerField()
    start = models.DateField()
    end = models.DateField(help_text="Exclusive: the lease ends before this day")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.HELD)
    booking_mode = models.CharField(max_length=10, choices=Listing.BookingMode.choices)
    unit_price = models.DecimalField(max_digits=12, decimal_places=4)
    total_price = models.DecimalField(max_digits=16, decimal_places=2)
    currency = models.CharField(max_length=3, validators=[CURRENCY_VALIDATOR])
    hold_expires_at = models.DateTimeField(null=True, blank=True, help_text="Answer deadline of a held request")
    decision_reasons = models.JSONField(default=list, blank=True)
    cancellation_fee = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    note = models.TextField(blank=True, max_length=2000)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    defaulted_party = models.CharField(max_length=10, choices=Party.choices, blank=True)
    defaulted_at = models.DateTimeField(null=True, blank=True)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        help_text="The transferred lease this one was split from",
    )
    escrow_reference = models.CharField(
        max_length=60,
        blank=True,
        help_text="Escrow this lease's price sits in; blank means its own 'lease:<id>'. "
        "A transferor's continuation keeps the original lease's escrow.",
    )

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "status"]),
            models.Index(fields=["listing", "status"]),
            models.Index(fields=["status", "hold_expires_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="lease_range_positive"),
            models.CheckConstraint(condition=Q(units__gte=1), name="lease_units_positive"),
            models.CheckConstraint(
                condition=~Q(status="held") | Q(hold_expires_at__isnull=False), name="lease_hold_has_deadline"
            ),
        ]

    def __str__(self):
        return f"Lease {self.pk}: {self.units} units {self.start}..{self.end} ({self.status})"

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def escrow_ref(self) -> str:
        """The opaque reference of the escrow guarding this lease (see payments.services.escrow)."""
        return self.escrow_reference or f"lease:{self.pk}"


class LeaseTransfer(models.Model):
    """A tenant hands all or part of a lease (some units, the remaining days) to another
    subject. `offered` → (recipient accepts) → `awaiting_operator` when the listing needs
    consent → `completed`; or `declined` (recipient or operator), `withdrawn` (transferor),
    `refused` (credit gate at acceptance), `expired` (no answer by `expires_at`).
    Execution closes the lease as `transferred` and splits it into child leases."""

    class Status(models.TextChoices):
        OFFERED = "offered", "Offered, awaiting the recipient"
        AWAITING_OPERATOR = "awaiting_operator", "Accepted, awaiting the operator's consent"
        COMPLETED = "completed", "Completed"
        DECLINED = "declined", "Declined"
        WITHDRAWN = "withdrawn", "Withdrawn"
        REFUSED = "refused", "Refused by the credit gate"
        EXPIRED = "expired", "Expired"

    OPEN = (Status.OFFERED, Status.AWAITING_OPERATOR)

    lease = models.ForeignKey(Lease, on_delete=models.PROTECT, related_name="transfers")
    from_subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="lease_transfers_offered")
    to_subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="lease_transfers_received")
    units = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OFFERED)
    expires_at = models.DateTimeField(help_text="The offer lapses if not executed by then")
    institution = models.ForeignKey(
        Subject,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Payment institution the recipient pays through",
    )
    note = models.TextField(blank=True, max_length=2000)
    reasons = models.JSONField(default=list, blank=True)
    effective_from = models.DateField(null=True, blank=True, help_text="First day the recipient holds (at execution)")
    amount = models.DecimalField(
        max_digits=16, decimal_places=2, null=True, blank=True, help_text="Price of the part handed over"
    )
    recipient_lease = models.ForeignKey(Lease, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    offered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["to_subject", "status"]),
            models.Index(fields=["from_subject", "status"]),
            models.Index(fields=["status", "expires_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(units__gte=1), name="leasetransfer_units_positive"),
            models.CheckConstraint(condition=~Q(from_subject=F("to_subject")), name="leasetransfer_not_to_self"),
            models.UniqueConstraint(
                fields=["lease"],
                condition=Q(status__in=["offered", "awaiting_operator"]),
                name="leasetransfer_one_open_per_lease",
            ),
            models.CheckConstraint(
                condition=~Q(status="completed") | Q(recipient_lease__isnull=False),
                name="leasetransfer_completed_has_lease",
            ),
        ]

    def __str__(self):
        return f"Transfer {self.pk} of lease {self.lease_id}: {self.units} units ({self.status})"


class LeaseReview(models.Model):
    """After completion each party rates the other once (1-5 stars)."""

    lease = models.ForeignKey(Lease, on_delete=models.PROTECT, related_name="reviews")
    reviewer = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="lease_reviews_given")
    reviewed = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="lease_reviews_received")
    stars = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True, max_length=2000)
    written_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["reviewed", "created_at"])]
        constraints = [
            models.UniqueConstraint(fields=["lease", "reviewer"], name="leasereview_once_per_party"),
            models.CheckConstraint(condition=Q(stars__gte=1) & Q(stars__lte=5), name="leasereview_stars_range"),
            models.CheckConstraint(condition=~Q(reviewer=F("reviewed")), name="leasereview_not_self"),
        ]

    def __str__(self):
        return f"{self.stars}★ on lease {self.lease_id} by {self.reviewer_id}"
