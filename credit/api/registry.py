"""The public credit registry API: search, profiles and the public blacklist.

Everything here is public (AllowAny) and answers the same for every caller; the
serializers list their fields explicitly so nothing private (evidence references, member
e-mails, appeal texts) can leak.
"""

import django_filters
from django import forms
from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Count, Window
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from config.api import FailOpenThrottleMixin, Pagination
from core import bidi
from core import csv as csv_export
from core.api import validated
from core.countries import country_choices
from credit.models import REGISTRATION_NUMBER_VALIDATOR, BlacklistEntry, Severity, Subject
from credit.selectors import registry as selectors
from credit.selectors.accounts import normalize_registration_number

# --- Filters (strict: invalid values are a 400 with per-field errors) ---------------------


class CountryField(forms.ChoiceField):
    """An ISO 3166-1 alpha-2 code, case-insensitive."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", [("", "Any country"), *country_choices()])
        kwargs.setdefault(
            "error_messages", {"invalid_choice": "Unknown country code %(value)s; use ISO 3166-1 alpha-2."}
        )
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        return super().to_python(value).strip().upper()


@extend_schema_field(OpenApiTypes.STR)
class CountryFilter(django_filters.ChoiceFilter):
    field_class = CountryField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", [])  # CountryField fills them
        super().__init__(*args, **kwargs)

    @property
    def field(self):
        if not hasattr(self, "_field"):
            self._field = CountryField(required=False, label=self.label)
        return self._field


KIND_CHOICES = list(selectors.KIND_LABELS.items())


class RegistrationNumberFormField(forms.CharField):
    """A registration number as written by people (spaces, lower case), checked once
    normalised the way the registry stores it."""

    default_validators = [REGISTRATION_NUMBER_VALIDATOR]

    def to_python(self, value):
        value = super().to_python(value)
        return normalize_registration_number(value) if value else value


class RegistrationNumberFilter(django_filters.CharFilter):
    field_class = RegistrationNumberFormField


class SubjectSearchFilter(django_filters.FilterSet):
    """Search and filters of the public registry (also the web page's form)."""

    q = django_filters.CharFilter(
        label="Name or registration number", max_length=selectors.MAX_QUERY_LENGTH, method="filter_noop"
    )
    country = CountryFilter(label="Country")
    registration_number = RegistrationNumberFilter(label="Registration number (exact)", method="filter_noop")
    grade = django_filters.MultipleChoiceFilter(
        label="Grade", choices=Subject.Grade.choices, method="filter_noop", widget=forms.CheckboxSelectMultiple
    )
    kind = django_filters.ChoiceFilter(label="Kind", choices=KIND_CHOICES, method="filter_noop", empty_label="Any kind")
    blacklisted = django_filters.BooleanFilter(
        label="Blacklisted",
        method="filter_noop",
        widget=forms.Select(choices=[("", "Either"), ("true", "Blacklisted only"), ("false", "Not blacklisted")]),
    )

    class Meta:
        model = Subject
        fields = ["q", "country", "registration_number", "grade", "kind", "blacklisted"]

    def filter_noop(self, queryset, name, value):
        return queryset

    def filter_queryset(self, queryset):
        data = self.form.cleaned_data
        qs = selectors.search_subjects(q=data.get("q") or "", country=data.get("country") or None)
        if data.get("registration_number"):
            qs = qs.filter(registration_number=data["registration_number"])
        return selectors.filter_subjects(
            qs, grade=data.get("grade") or None, kind=data.get("kind") or None, blacklisted=data.get("blacklisted")
        )


class PublicBlacklistFilter(django_filters.FilterSet):
    country = CountryFilter(label="Country")
    category = django_filters.ChoiceFilter(
        label="Category", choices=BlacklistEntry.Category.choices, method="filter_noop", empty_label="Any category"
    )
    severity = django_filters.ChoiceFilter(
        label="Severity", choices=Severity.choices, method="filter_noop", empty_label="Any severity"
    )

    class Meta:
        model = BlacklistEntry
        fields = ["country", "category", "severity"]

    def filter_noop(self, queryset, name, value):
        return queryset

    def filter_queryset(self, queryset):
        data = self.form.cleaned_data
        return selectors.public_blacklist_entries(
            country=data.get("country") or None,
            category=data.get("category") or None,
            severity=data.get("severity") or None,
        )


# --- Pagination ----------------------------------------------------------------------------


MAX_PAGE_NUMBER = 1_000_000


class OneQueryPaginator(Paginator):
    """Fetches a page and the total in one query (`count(*) OVER ()`), instead of running
    the search twice (count, then page). Falls back to Django's way for an empty page."""

    def page(self, number):
        try:
            number = int(number)
        except (TypeError, ValueError):
            return super().page(number)
        # A page beyond any real result set (e.g. ?page=10**22) would overflow the
        # database's OFFSET; Django's own path answers it from the count instead.
        if number < 1 or number > MAX_PAGE_NUMBER or not hasattr(self.object_list, "annotate"):
            return super().page(number)
        bottom = (number - 1) * self.per_page
        rows = list(self.object_list.annotate(_total=Window(Count("pk")))[bottom : bottom + self.per_page])
        if not rows:
            return super().page(number)
        self.__dict__["count"] = rows[0]._total  # Paginator.count is a cached_property
        return self._get_page(rows, number, self)


class SearchPagination(Pagination):
    django_paginator_class = OneQueryPaginator


# --- Throttle ------------------------------------------------------------------------------


class RegistrySearchThrottle(FailOpenThrottleMixin, SimpleRateThrottle):
    """A tighter bucket for search (it is the expensive query), per client: API key,
    user, or IP. Rate `registry_search` in DEFAULT_THROTTLE_RATES, else the anon rate."""

    scope = "registry_search"

    def get_rate(self):
        rates = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {})
        return rates.get(self.scope) or rates.get("anon")

    def get_cache_key(self, request, view):
        key = getattr(request, "api_key", None)
        if key is not None:
            ident = f"key:{key.prefix}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


# --- Serializers ---------------------------------------------------------------------------

ProblemSerializer = inline_serializer(
    "RegistryProblem",
    {
        "type": serializers.URLField(),
        "title": serializers.CharField(),
        "status": serializers.IntegerField(),
        "detail": serializers.CharField(),
        "code": serializers.CharField(),
        "errors": serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False),
    },
)
PROBLEM_400 = OpenApiResponse(ProblemSerializer, description="Invalid query parameters (per-field `errors`).")
PROBLEM_404 = OpenApiResponse(ProblemSerializer, description="No such subject.")
PROBLEM_429 = OpenApiResponse(ProblemSerializer, description="Too many requests; see Retry-After.")


BIDI_HELP = (
    "True when legal_name or trading_name holds Unicode bidirectional control characters "
    "(U+202A-202E, U+2066-2069, U+200E/F, U+061C), which can make a name display differently "
    "from what is stored: show it isolated (e.g. HTML <bdi>) and flag it."
)


class SubjectSummarySerializer(serializers.ModelSerializer):
    kinds = serializers.ListField(child=serializers.CharField(), read_only=True)
    operation_modes = serializers.ListField(child=serializers.CharField(), read_only=True)
    grade_label = serializers.CharField(source="get_grade_display", read_only=True)
    rank = serializers.FloatField(read_only=True, allow_null=True, help_text="Match quality; higher is better")
    registration_match = serializers.BooleanField(read_only=True, default=False)
    name_has_bidi_controls = serializers.SerializerMethodField(help_text=BIDI_HELP)

    class Meta:
        model = Subject
        fields = [
            "id",
            "country",
            "registration_number",
            "legal_name",
            "trading_name",
            "name_has_bidi_controls",
            "city",
            "kinds",
            "operation_modes",
            "grade",
            "grade_label",
            "score",
            "rated_at",
            "is_blacklisted",
            "rank",
            "registration_match",
        ]

    def get_name_has_bidi_controls(self, subject) -> bool:
        return bidi.has_bidi_controls(subject.legal_name, subject.trading_name)


class ReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    component = serializers.CharField(allow_null=True)
    points = serializers.FloatField(allow_null=True, help_text="Contribution to the score; negative lowers it")
    direction = serializers.ChoiceField(choices=["lowers", "raises", "rule"])
    events = serializers.IntegerField()


class HistoryPointSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    grade = serializers.CharField()
    score = serializers.FloatField()


class PublicEntrySerializer(serializers.ModelSerializer):
    category_label = serializers.CharField(source="get_category_display", read_only=True)

    class Meta:
        model = BlacklistEntry
        fields = [
            "id",
            "category",
            "category_label",
            "legal_basis",
            "decision_reference",
            "severity",
            "starts_on",
            "publication_ends_on",
            "fine_amount",
            "fine_currency",
        ]


class PublicEntrySubjectSerializer(serializers.ModelSerializer):
    name_has_bidi_controls = serializers.SerializerMethodField(help_text=BIDI_HELP)

    class Meta:
        model = Subject
        fields = ["id", "country", "registration_number", "legal_name", "name_has_bidi_controls", "grade"]

    def get_name_has_bidi_controls(self, subject) -> bool:
        return bidi.has_bidi_controls(subject.legal_name, subject.trading_name)


class PublicBlacklistEntrySerializer(PublicEntrySerializer):
    subject = PublicEntrySubjectSerializer(read_only=True)

    class Meta(PublicEntrySerializer.Meta):
        fields = ["id", "subject", *PublicEntrySerializer.Meta.fields[1:]]


class AsOfSerializer(serializers.Serializer):
    date = serializers.DateField()
    grade = serializers.CharField()
    score = serializers.FloatField(allow_null=True)


class SubjectProfileSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="subject.pk")
    country = serializers.CharField(source="subject.country")
    registration_number = serializers.CharField(source="subject.registration_number")
    legal_name = serializers.CharField(source="subject.legal_name")
    trading_name = serializers.CharField(source="subject.trading_name")
    name_has_bidi_controls = serializers.SerializerMethodField(help_text=BIDI_HELP)
    city = serializers.CharField(source="subject.city")
    website = serializers.CharField(source="subject.website")
    description = serializers.CharField(source="subject.description")
    founded_on = serializers.DateField(source="subject.founded_on", allow_null=True)
    kinds = serializers.ListField(child=serializers.CharField(), source="subject.kinds")
    operation_modes = serializers.ListField(child=serializers.CharField(), source="subject.operation_modes")
    grade = serializers.CharField(source="subject.grade")
    score = serializers.DecimalField(max_digits=6, decimal_places=2, source="subject.score", allow_null=True)
    rated_at = serializers.DateTimeField(source="subject.rated_at", allow_null=True)
    model_version = serializers.IntegerField(allow_null=True)
    reasons = ReasonSerializer(many=True, source="reason_rows")
    history = HistoryPointSerializer(many=True)
    as_of = serializers.SerializerMethodField()
    is_blacklisted = serializers.BooleanField(source="subject.is_blacklisted")
    blacklist_entries = PublicEntrySerializer(many=True, source="active_entries")
    generated_at = serializers.DateTimeField()

    def get_name_has_bidi_controls(self, profile) -> bool:
        return bidi.has_bidi_controls(profile.subject.legal_name, profile.subject.trading_name)

    @extend_schema_field(AsOfSerializer(allow_null=True))
    def get_as_of(self, profile):
        if profile.as_of is None:
            return None
        return {"date": profile.as_of.isoformat(), "grade": profile.grade, "score": profile.score}


class AsOfQuerySerializer(serializers.Serializer):
    as_of = serializers.DateField(required=False, input_formats=["%Y-%m-%d"], help_text="YYYY-MM-DD")


# --- Views ---------------------------------------------------------------------------------


class SubjectSearchView(generics.ListAPIView):
    """Public search of the registry by name (typo-tolerant, any script) or registration
    number (exact; spaces and case ignored), best match first."""

    permission_classes = [AllowAny]
    serializer_class = SubjectSummarySerializer
    filterset_class = SubjectSearchFilter
    pagination_class = SearchPagination
    throttle_classes = [*api_settings.DEFAULT_THROTTLE_CLASSES, RegistrySearchThrottle]

    def get_queryset(self):
        return selectors.public_subjects()

    @extend_schema(
        tags=["registry"],
        operation_id="registry_subjects_search",
        responses={200: SubjectSummarySerializer(many=True), 400: PROBLEM_400, 429: PROBLEM_429},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class SubjectProfileView(APIView):
    """A subject's public profile: grade, score, reason codes and model version of its
    latest rating, grade history, and blacklist status with the active public entries.
    `?as_of=YYYY-MM-DD` adds the grade and score in force at the end of that day."""

    permission_classes = [AllowAny]

    @extend_schema(
        tags=["registry"],
        operation_id="registry_subject_profile",
        parameters=[
            OpenApiParameter(
                "as_of",
                OpenApiTypes.DATE,
                description=(
                    "Also return the grade and score in force at the end of this day (UTC), "
                    "i.e. including ratings computed on it (YYYY-MM-DD)"
                ),
            )
        ],
        responses={200: SubjectProfileSerializer, 400: PROBLEM_400, 404: PROBLEM_404, 429: PROBLEM_429},
    )
    def get(self, request, pk: int):
        as_of = validated(AsOfQuerySerializer, request.query_params).get("as_of")
        profile = selectors.public_profile(subject_id=pk, as_of=as_of)
        return Response(SubjectProfileSerializer(profile).data)


class CSVRenderer(BaseRenderer):
    """Lets content negotiation accept `?format=csv` / `Accept: text/csv`; the view streams
    the CSV itself. Anything else (an error) is rendered as JSON."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return JSONRenderer().render(data, accepted_media_type, renderer_context)


BLACKLIST_CSV_COLUMNS = [
    ("entry_id", lambda e: e.pk),
    ("subject_id", lambda e: e.subject_id),
    ("country", lambda e: e.subject.country),
    ("registration_number", lambda e: e.subject.registration_number),
    ("legal_name", lambda e: e.subject.legal_name),
    ("category", lambda e: e.category),
    ("legal_basis", lambda e: e.legal_basis),
    ("decision_reference", lambda e: e.decision_reference),
    ("severity", lambda e: e.severity),
    ("starts_on", lambda e: e.starts_on.isoformat()),
    ("publication_ends_on", lambda e: e.publication_ends_on.isoformat()),
    ("fine_amount", lambda e: "" if e.fine_amount is None else str(e.fine_amount)),
    ("fine_currency", lambda e: e.fine_currency),
]


class _Echo:
    def write(self, value):
        return value


def blacklist_csv_response(entries) -> StreamingHttpResponse:
    writer = csv_export.writer(_Echo())

    def rows():
        yield writer.writerow([name for name, _ in BLACKLIST_CSV_COLUMNS])
        for entry in entries.iterator(chunk_size=2000):
            yield writer.writerow([getter(entry) for _, getter in BLACKLIST_CSV_COLUMNS])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="entrepot-blacklist-{stamp}.csv"'
    return response


class PublicBlacklistView(generics.ListAPIView):
    """The active public blacklist: entries inside their publication period, newest first.
    `?format=csv` (or `Accept: text/csv`) returns the whole filtered list as CSV with a
    header row instead of a JSON page."""

    permission_classes = [AllowAny]
    serializer_class = PublicBlacklistEntrySerializer
    filterset_class = PublicBlacklistFilter
    pagination_class = SearchPagination
    renderer_classes = [JSONRenderer, CSVRenderer]

    def get_queryset(self):
        return selectors.public_blacklist_entries()

    @extend_schema(
        tags=["registry"],
        operation_id="registry_blacklist",
        parameters=[
            OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"], description="csv: the full list")
        ],
        responses={
            (200, "application/json"): PublicBlacklistEntrySerializer(many=True),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The full filtered list as CSV"),
            400: PROBLEM_400,
            429: PROBLEM_429,
        },
    )
    def get(self, request, *args, **kwargs):
        if request.accepted_renderer.format == "csv":
            entries = self.filter_queryset(self.get_queryset())
            return blacklist_csv_response(entries)
        return super().get(request, *args, **kwargs)
