"""Web forms check the shape of the input; the services enforce the rules."""

from decimal import Decimal

from django import forms

from core.countries import country_choices
from credit.models import Subject
from warehouses.models import Listing, Warehouse
from warehouses.selectors import SORTS
from warehouses.services.listings import MAX_TERM_DAYS, WAREHOUSE_FIELDS

DATE = forms.DateInput(attrs={"type": "date"})
FEATURE_CHOICES = [
    ("bonded", "Bonded"),
    ("free_zone", "Free-trade zone"),
    ("temperature_controlled", "Temperature controlled"),
    ("hazmat", "Accepts hazmat"),
] + [(s.value, s.label) for s in Warehouse.Service]
GRADE_CHOICES = [("", "Any")] + [(g.value, g.label) for g in Subject.Grade]


class SearchForm(forms.Form):
    country = forms.ChoiceField(choices=[("", "Any country")] + country_choices(), required=False)
    city = forms.CharField(required=False, max_length=120)
    start = forms.DateField(required=False, widget=DATE, help_text="First day")
    end = forms.DateField(required=False, widget=DATE, help_text="Day after the last day (not included)")
    units = forms.IntegerField(required=False, min_value=1, max_value=10_000_000)
    features = forms.MultipleChoiceField(choices=FEATURE_CHOICES, required=False, widget=forms.CheckboxSelectMultiple)
    max_price = forms.DecimalField(
        required=False, min_value=Decimal("0"), max_digits=12, decimal_places=4, label="Max price/unit/day"
    )
    min_operator_grade = forms.ChoiceField(choices=GRADE_CHOICES, required=False, label="Operator grade at least")
    sort = forms.ChoiceField(
        choices=[
            (s, label)
            for s, label in zip(
                SORTS, ["Price", "Price (high first)", "Operator grade", "Distance", "Newest"], strict=True
            )
        ],
        required=False,
    )
    lat = forms.FloatField(required=False, min_value=-90, max_value=90, label="Near latitude")
    lon = forms.FloatField(required=False, min_value=-180, max_value=180, label="Near longitude")

    def clean(self):
        data = super().clean()
        if bool(data.get("start")) != bool(data.get("end")):
            self.add_error("end" if data.get("start") else "start", "Give both dates, or neither.")
        elif data.get("start") and data["end"] <= data["start"]:
            self.add_error("end", "The end must be after the start (the end day is not included).")
        if data.get("sort") == "distance" and (data.get("lat") is None or data.get("lon") is None):
            self.add_error("sort", "Sorting by distance needs a latitude and longitude.")
        return data


class LeaseRequestForm(forms.Form):
    tenant = forms.TypedChoiceField(coerce=int, label="Lease for")
    start = forms.DateField(widget=DATE, help_text="First day")
    end = forms.DateField(widget=DATE, help_text="Day after the last day (not included)")
    units = forms.IntegerField(min_value=1, max_value=10_000_000)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)

    def __init__(self, *args, tenants=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tenant"].choices = [(s.pk, s.legal_name) for s in tenants]

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            self.add_error("end", "The end must be after the start (the end day is not included).")
        return data


class WarehouseForm(forms.ModelForm):
    owner = forms.TypedChoiceField(coerce=int, label="Operator")
    hazmat_classes = forms.MultipleChoiceField(
        choices=[(c, f"Class {c}") for c in Warehouse.HAZMAT_CLASSES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Hazmat classes accepted",
    )
    services = forms.MultipleChoiceField(
        choices=Warehouse.Service.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    certifications = forms.CharField(required=False, help_text="Comma-separated, e.g. ISO 9001, TAPA FSR")
    country = forms.ChoiceField(choices=country_choices())

    class Meta:
        model = Warehouse
        # Hazmat classes, services and certifications are the form's own fields, above.
        fields = [name for name in WAREHOUSE_FIELDS if name not in ("hazmat_classes", "services", "certifications")]

    def __init__(self, *args, owners=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [(s.pk, s.legal_name) for s in owners]
        self.order_fields(["owner"])

    def clean_certifications(self):
        return [c.strip() for c in self.cleaned_data["certifications"].split(",") if c.strip()]


class ListingForm(forms.Form):
    warehouse = forms.TypedChoiceField(coerce=int)
    title = forms.CharField(max_length=200)
    units = forms.IntegerField(min_value=1, max_value=10_000_000, help_text="Offered on every day of the window")
    available_from = forms.DateField(widget=DATE)
    available_until = forms.DateField(widget=DATE, help_text="Not included: the last day offered is the day before")
    price_per_unit_day = forms.DecimalField(min_value=Decimal("0.0001"), max_digits=12, decimal_places=4)
    currency = forms.CharField(max_length=3, initial="EUR", help_text="ISO 4217, e.g. EUR, USD, CNY")
    min_units = forms.IntegerField(min_value=1, max_value=10_000_000, initial=1)
    min_days = forms.IntegerField(min_value=1, max_value=MAX_TERM_DAYS, initial=1)
    booking_mode = forms.ChoiceField(choices=Listing.BookingMode.choices)
    min_tenant_grade = forms.ChoiceField(choices=GRADE_CHOICES, required=False, label="Minimum tenant grade")
    free_cancellation_days = forms.IntegerField(min_value=0, max_value=MAX_TERM_DAYS, initial=7)
    cancellation_fee_percent = forms.DecimalField(min_value=0, max_value=100, initial=0, max_digits=5, decimal_places=2)
    transfer_requires_consent = forms.BooleanField(
        required=False, initial=True, label="Lease transfers need my consent"
    )
    publish = forms.BooleanField(required=False, initial=True, label="Publish now")

    def __init__(self, *args, warehouses=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["warehouse"].choices = [(w.pk, str(w)) for w in warehouses]

    def clean_currency(self):
        return self.cleaned_data["currency"].upper()


class CapacityForm(forms.Form):
    units = forms.IntegerField(min_value=1, max_value=10_000_000, label="Units per day")


class ExtendForm(forms.Form):
    available_until = forms.DateField(widget=DATE, label="Offer until (not included)")


class ReasonForm(forms.Form):
    reason = forms.CharField(required=False, max_length=2000)
