"""Input serializers check the shape; services enforce the rules. Output serializers name
their fields explicitly."""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from credit.countries import currency_codes
from credit.models import Subject
from payments.selectors import escrow_summaries
from warehouses.api.fast import FastListSerializer, FreshFieldsMixin, represent
from warehouses.models import Lease, LeaseReview, LeaseTransfer, Listing, Warehouse
from warehouses.selectors import SORTS, haversine_km
from warehouses.services.escrow import amount_due
from warehouses.services.leases import lease_price
from warehouses.services.listings import MAX_TERM_DAYS
from warehouses.services.payment_deadline import payment_due_at

FEATURES_HELP = (
    "Comma-separated: bonded, free_zone, temperature_controlled, hazmat, hazmat:<UN class>, a service "
    "(pick_and_pack, kitting, labelling, returns, cross_docking, last_mile) or cert:<name> (e.g. cert:iso_9001)."
)


def check_range(attrs, start="start", end="end"):
    if attrs.get(start) and attrs.get(end) and attrs[end] <= attrs[start]:
        raise serializers.ValidationError({end: ["The end must be after the start (the end day is not included)."]})


def check_currency(value: str) -> str:
    value = value.upper()
    if value not in currency_codes():
        raise serializers.ValidationError("Unknown currency: use an ISO 4217 code such as EUR.")
    return value


MAX_SEARCH_FEATURES = 20


class ListingSearchSerializer(serializers.Serializer):
    country = serializers.RegexField(r"^[A-Za-z]{2}$", required=False, help_text="ISO 3166-1 alpha-2")
    city = serializers.CharField(required=False, max_length=120)
    start = serializers.DateField(required=False, help_text="First day (included)")
    end = serializers.DateField(required=False, help_text="Day after the last day (not included)")
    units = serializers.IntegerField(required=False, min_value=1, max_value=10_000_000)
    features = serializers.CharField(required=False, help_text=FEATURES_HELP)
    max_price = serializers.DecimalField(required=False, max_digits=12, decimal_places=4, min_value=Decimal("0"))
    currency = serializers.CharField(required=False, max_length=3)
    min_operator_grade = serializers.ChoiceField(choices=Subject.Grade.choices, required=False)
    sort = serializers.ChoiceField(choices=SORTS, required=False, default="price")
    lat = serializers.FloatField(required=False, min_value=-90, max_value=90)
    lon = serializers.FloatField(required=False, min_value=-180, max_value=180)

    def validate_currency(self, value):
        return check_currency(value)

    def validate_features(self, value):
        features = tuple(dict.fromkeys(f.strip() for f in value.split(",") if f.strip()))
        # Each feature is one more condition on the search: thousands of them cost seconds.
        if len(features) > MAX_SEARCH_FEATURES or any(len(f) > 100 for f in features):
            raise serializers.ValidationError(f"At most {MAX_SEARCH_FEATURES} features of up to 100 characters.")
        return features

    def validate(self, attrs):
        if bool(attrs.get("start")) != bool(attrs.get("end")):
            missing = "end" if attrs.get("start") else "start"
            raise serializers.ValidationError({missing: ["Give both start and end, or neither."]})
        check_range(attrs)
        if attrs.get("start") and (attrs["end"] - attrs["start"]).days > 731:
            raise serializers.ValidationError({"end": ["Search at most two years at a time."]})
        if attrs.get("sort") == "distance" and (attrs.get("lat") is None or attrs.get("lon") is None):
            raise serializers.ValidationError({"sort": ["Sorting by distance needs lat and lon."]})
        return attrs


class OperatorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Subject
        fields = ["id", "legal_name", "country", "grade", "is_blacklisted"]


class WarehouseSerializer(serializers.ModelSerializer):
    owner = OperatorSerializer(read_only=True)

    class Meta:
        model = Warehouse
        fields = [
            "id",
            "owner",
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


class WarehouseInputSerializer(serializers.Serializer):
    owner = serializers.IntegerField(required=False, help_text="Subject id; optional if you act for one subject")
    name = serializers.CharField(max_length=200)
    country = serializers.RegexField(r"^[A-Za-z]{2}$")
    city = serializers.CharField(max_length=120)
    address = serializers.CharField(max_length=500)
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6, min_value=-90, max_value=90)
    longitude = serializers.DecimalField(max_digits=9, decimal_places=6, min_value=-180, max_value=180)
    capacity_unit = serializers.ChoiceField(choices=Warehouse.CapacityUnit.choices, default="pallet")
    customs_status = serializers.ChoiceField(choices=Warehouse.CustomsStatus.choices, default="none")
    temperature_min_c = serializers.DecimalField(max_digits=5, decimal_places=1, required=False, allow_null=True)
    temperature_max_c = serializers.DecimalField(max_digits=5, decimal_places=1, required=False, allow_null=True)
    hazmat_classes = serializers.ListField(
        child=serializers.ChoiceField(choices=Warehouse.HAZMAT_CLASSES), required=False, default=list
    )
    services = serializers.ListField(
        child=serializers.ChoiceField(choices=Warehouse.Service.choices), required=False, default=list
    )
    certifications = serializers.ListField(child=serializers.CharField(max_length=60), required=False, default=list)


class QuoteSerializer(serializers.Serializer):
    units = serializers.IntegerField()
    days = serializers.IntegerField()
    total_price = serializers.DecimalField(max_digits=16, decimal_places=2)
    currency = serializers.CharField()


class ListingSerializer(serializers.ModelSerializer):
    warehouse = WarehouseSerializer(read_only=True)
    operator_grade = serializers.CharField(source="warehouse.owner.grade", read_only=True)
    quote = serializers.SerializerMethodField(help_text="The total price for the searched units and dates")
    distance_km = serializers.SerializerMethodField()

    class Meta:
        model = Listing
        list_serializer_class = FastListSerializer  # search pages: the same output, faster
        fields = [
            "id",
            "title",
            "warehouse",
            "operator_grade",
            "units",
            "available_from",
            "available_until",
            "price_per_unit_day",
            "currency",
            "min_units",
            "min_days",
            "booking_mode",
            "min_tenant_grade",
            "free_cancellation_days",
            "cancellation_fee_percent",
            "transfer_requires_consent",
            "status",
            "quote",
            "distance_km",
        ]

    @extend_schema_field(QuoteSerializer(allow_null=True))
    def get_quote(self, listing):
        search = self.context.get("search")
        if not search or not search.start:
            return None
        units = search.units or listing.min_units
        return {
            "units": units,
            "days": search.days,
            "total_price": str(
                lease_price(unit_price=listing.price_per_unit_day, units=units, start=search.start, end=search.end)
            ),
            "currency": listing.currency,
        }

    def get_distance_km(self, listing) -> float | None:
        search = self.context.get("search")
        if not search or search.lat is None or search.lon is None:
            return None
        w = listing.warehouse
        return round(haversine_km(search.lat, search.lon, float(w.latitude), float(w.longitude)), 1)


class ListingInputSerializer(serializers.Serializer):
    warehouse = serializers.IntegerField()
    title = serializers.CharField(max_length=200)
    units = serializers.IntegerField(min_value=1, max_value=10_000_000)
    available_from = serializers.DateField()
    available_until = serializers.DateField(help_text="Exclusive")
    price_per_unit_day = serializers.DecimalField(max_digits=12, decimal_places=4, min_value=Decimal("0.0001"))
    currency = serializers.CharField(max_length=3)
    min_units = serializers.IntegerField(min_value=1, max_value=10_000_000, default=1)
    min_days = serializers.IntegerField(min_value=1, max_value=MAX_TERM_DAYS, default=1)
    booking_mode = serializers.ChoiceField(choices=Listing.BookingMode.choices, default="request")
    min_tenant_grade = serializers.ChoiceField(choices=[("", "Any")] + list(Subject.Grade.choices), default="")
    free_cancellation_days = serializers.IntegerField(min_value=0, max_value=MAX_TERM_DAYS, default=7)
    cancellation_fee_percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=Decimal("0"), max_value=Decimal("100"), default=Decimal("0")
    )
    transfer_requires_consent = serializers.BooleanField(
        default=True, help_text="Lease transfers need the operator's consent"
    )
    publish = serializers.BooleanField(default=False)

    def validate_currency(self, value):
        return check_currency(value)

    def validate(self, attrs):
        check_range(attrs, "available_from", "available_until")
        return attrs


class ListingUpdateSerializer(serializers.Serializer):
    """Any subset. `units` changes the capacity of every day (never below what is
    reserved); `available_until` only extends; `status` follows draft -> published <->
    paused -> closed."""

    title = serializers.CharField(max_length=200, required=False)
    units = serializers.IntegerField(min_value=1, max_value=10_000_000, required=False)
    available_until = serializers.DateField(required=False)
    price_per_unit_day = serializers.DecimalField(
        max_digits=12, decimal_places=4, min_value=Decimal("0.0001"), required=False
    )
    currency = serializers.CharField(max_length=3, required=False)
    min_units = serializers.IntegerField(min_value=1, max_value=10_000_000, required=False)
    min_days = serializers.IntegerField(min_value=1, max_value=MAX_TERM_DAYS, required=False)
    booking_mode = serializers.ChoiceField(choices=Listing.BookingMode.choices, required=False)
    min_tenant_grade = serializers.ChoiceField(choices=[("", "Any")] + list(Subject.Grade.choices), required=False)
    free_cancellation_days = serializers.IntegerField(min_value=0, max_value=MAX_TERM_DAYS, required=False)
    cancellation_fee_percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=Decimal("0"), max_value=Decimal("100"), required=False
    )
    status = serializers.ChoiceField(choices=Listing.Status.choices, required=False)
    transfer_requires_consent = serializers.BooleanField(required=False)

    def validate_currency(self, value):
        return check_currency(value)


class CalendarDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    capacity = serializers.IntegerField()
    reserved = serializers.IntegerField()
    free = serializers.IntegerField()


class LeaseRequestSerializer(FreshFieldsMixin, serializers.Serializer):
    listing = serializers.IntegerField()
    tenant = serializers.IntegerField(required=False, help_text="Subject id; optional if you act for one subject")
    units = serializers.IntegerField(min_value=1, max_value=10_000_000)
    start = serializers.DateField(help_text="First day (included)")
    end = serializers.DateField(help_text="Day after the last day (not included)")
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")

    def validate(self, attrs):
        check_range(attrs)
        return attrs


class LeaseReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class EscrowBlockSerializer(serializers.Serializer):
    """The lease's escrow: `status` is unpaid, funded, partially released, released,
    refunded or frozen (an open dispute). Amounts in `currency`; `released` is before the
    platform fee; `due` is what paying charges (0 once funded): the price of every live lease
    sharing the escrow (a transferor's split leases share the original's)."""

    reference = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["unpaid", "funded", "partially released", "released", "refunded", "frozen"]
    )
    currency = serializers.CharField()
    held = serializers.DecimalField(max_digits=20, decimal_places=2)
    released = serializers.DecimalField(max_digits=20, decimal_places=2)
    refunded = serializers.DecimalField(max_digits=20, decimal_places=2)
    balance = serializers.DecimalField(max_digits=20, decimal_places=2)
    due = serializers.DecimalField(max_digits=20, decimal_places=2)
    open_dispute = serializers.BooleanField()


# Leases that can never have been paid into escrow (only approved leases take payment).
NEVER_PAID = ("held", "rejected", "expired")
UNPAID = {
    "status": "unpaid",
    "funded": False,
    "currency": "",
    "open_dispute": False,
    **dict.fromkeys(("held", "released", "refunded", "balance"), Decimal("0.00")),
}


def escrow_block(lease, summary: dict, prices: dict | None = None) -> dict:
    due = Decimal("0.00")
    if not summary["funded"] and lease.status in ("approved", "active"):
        # What paying charges: the price of every live lease sharing the escrow. Only a
        # transferor's split leases share one: a list passes their `prices` (one query for
        # the page), a single lease reads its own (one query for it, none otherwise).
        if lease.escrow_reference:
            due = amount_due(lease=lease, prices=prices)
        else:
            due = lease.total_price
    keys = ("status", "held", "released", "refunded", "balance", "open_dispute")
    return {"reference": lease.escrow_ref, "currency": summary["currency"] or lease.currency, "due": due} | {
        k: summary[k] for k in keys
    }


class LeaseSerializer(serializers.ModelSerializer):
    tenant = OperatorSerializer(read_only=True)
    listing_title = serializers.CharField(source="listing.title", read_only=True)
    warehouse = serializers.CharField(source="listing.warehouse.name", read_only=True)
    operator = OperatorSerializer(source="listing.warehouse.owner", read_only=True)
    decision_reasons = LeaseReasonSerializer(many=True, read_only=True)
    escrow_reference = serializers.CharField(
        source="escrow_ref", read_only=True, help_text="The escrow guarding this lease (see payments)"
    )
    escrow = serializers.SerializerMethodField()
    payment_due_at = serializers.SerializerMethodField(
        help_text="An approved lease not yet paid into escrow expires at this time (null otherwise)"
    )

    class Meta:
        model = Lease
        fields = [
            "id",
            "listing",
            "listing_title",
            "warehouse",
            "operator",
            "tenant",
            "units",
            "start",
            "end",
            "status",
            "booking_mode",
            "unit_price",
            "total_price",
            "currency",
            "hold_expires_at",
            "payment_due_at",
            "decision_reasons",
            "cancellation_fee",
            "note",
            "requested_at",
            "decided_at",
            "checked_in_at",
            "completed_at",
            "cancelled_at",
            "defaulted_party",
            "defaulted_at",
            "parent",
            "escrow_reference",
            "escrow",
        ]

    @extend_schema_field(EscrowBlockSerializer)
    def get_escrow(self, lease) -> dict:
        # Lists pass every summary of the page in the context, and the live prices of its
        # split leases' escrows (one batch each, no N+1).
        summaries = self.context.get("escrow_summaries")
        if lease.status in NEVER_PAID and (summaries is None or lease.escrow_ref not in summaries):
            return represent(EscrowBlockSerializer, escrow_block(lease, UNPAID))  # no queries (lease requests)
        if summaries is None or lease.escrow_ref not in summaries:
            summaries = escrow_summaries(references=[lease.escrow_ref])
        block = escrow_block(lease, summaries[lease.escrow_ref], self.context.get("live_prices"))
        return represent(EscrowBlockSerializer, block)

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_payment_due_at(self, lease) -> str | None:
        due = payment_due_at(lease=lease)
        if due is None:
            return None  # not approved: no queries
        summaries = self.context.get("escrow_summaries")
        if summaries is None or lease.escrow_ref not in summaries:
            fetched = escrow_summaries(references=[lease.escrow_ref])
            # Kept for `escrow`, which reads the same summary.
            self.context.setdefault("escrow_summaries", {}).update(fetched)
            summaries = fetched
        return None if summaries[lease.escrow_ref]["funded"] else serializers.DateTimeField().to_representation(due)


class LeaseReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


MAX_ID = 2**63 - 1  # ids beyond a bigint are refused as bad input, not sent to the database


class PartySerializer(serializers.ModelSerializer):
    class Meta:
        model = Subject
        fields = ["id", "legal_name", "country", "registration_number", "grade"]


class TransferOfferInputSerializer(serializers.Serializer):
    to_subject = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="Subject id of the recipient")
    units = serializers.IntegerField(min_value=1, max_value=10_000_000, help_text="1 up to the lease's units")
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class TransferAcceptInputSerializer(serializers.Serializer):
    institution = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="Subject id of the payment institution the recipient pays through"
    )


class TransferReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class LeaseTransferSerializer(serializers.ModelSerializer):
    from_subject = PartySerializer(read_only=True)
    to_subject = PartySerializer(read_only=True)
    institution = serializers.PrimaryKeyRelatedField(read_only=True)
    operator = PartySerializer(source="lease.listing.warehouse.owner", read_only=True)
    reasons = LeaseReasonSerializer(many=True, read_only=True)
    requires_consent = serializers.BooleanField(source="lease.listing.transfer_requires_consent", read_only=True)

    class Meta:
        model = LeaseTransfer
        fields = [
            "id",
            "lease",
            "from_subject",
            "to_subject",
            "operator",
            "units",
            "status",
            "requires_consent",
            "expires_at",
            "institution",
            "note",
            "reasons",
            "effective_from",
            "amount",
            "recipient_lease",
            "created_at",
            "accepted_at",
            "decided_at",
        ]


class ReviewInputSerializer(serializers.Serializer):
    stars = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    reviewer = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="The side you review for (tenant or operator subject id); optional if only one",
    )


class LeaseReviewSerializer(serializers.ModelSerializer):
    reviewer = PartySerializer(read_only=True)
    reviewed = PartySerializer(read_only=True)

    class Meta:
        model = LeaseReview
        fields = ["id", "lease", "reviewer", "reviewed", "stars", "comment", "created_at"]


# --- Escrow and disputes ----------------------------------------------------------------------


class PayInputSerializer(serializers.Serializer):
    institution = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, help_text="Subject id of the payment institution the tenant pays through"
    )


class DisputeInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=4000, help_text="What the dispute is about (both parties see it)")
    subject = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="The party you act for, if you act for both"
    )


class DisputeResolveInputSerializer(serializers.Serializer):
    resolution = serializers.ChoiceField(
        choices=[
            ("payer", "Tenant: refund what remains"),
            ("payee", "Operator: release what remains"),
            ("split", "Split"),
        ]
    )
    payee_amount = serializers.DecimalField(
        max_digits=20,
        decimal_places=2,
        min_value=Decimal("0"),
        required=False,
        help_text="For a split: released to the operator (less the platform fee); the rest is refunded",
    )
    reason = serializers.CharField(max_length=4000, help_text="The decision's reasons, shown to both parties")

    def validate(self, attrs):
        if attrs["resolution"] == "split" and attrs.get("payee_amount") is None:
            raise serializers.ValidationError({"payee_amount": ["Required for a split."]})
        return attrs


class DisputeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField(help_text="The escrow disputed, e.g. lease:12")
    lease = serializers.IntegerField(allow_null=True)
    opener = PartySerializer()
    respondent = PartySerializer()
    reason = serializers.CharField()
    status = serializers.CharField()
    resolution = serializers.CharField(allow_blank=True)
    payee_amount = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    payer_amount = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    decision_reason = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
