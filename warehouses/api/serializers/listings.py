"""Listings and warehouses: search input, the listing and warehouse shapes in and out, the
calendar."""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.countries import currency_codes
from credit.models import Subject
from warehouses.api.fast import FastListSerializer
from warehouses.models import Listing, Warehouse
from warehouses.selectors import SORTS, haversine_km
from warehouses.services.leases import lease_price
from warehouses.services.listings import MAX_TERM_DAYS, TERMS_FIELDS, WAREHOUSE_FIELDS

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
        fields = ["id", "owner", *WAREHOUSE_FIELDS]


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
            *(name for name in TERMS_FIELDS if name != "title"),
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
                lease_price(
                    unit_price=listing.price_per_unit_day,
                    units=units,
                    start=search.start,
                    end=search.end,
                    currency=listing.currency,
                )
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
