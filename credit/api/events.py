"""Regulator API for credit events and full recomputes, and the public methodology.

- POST /api/v1/credit/events/                 record an event (regulators)
- POST /api/v1/credit/events/{id}/reverse/    reverse a mistaken event with a reason (regulators)
- GET/POST /api/v1/credit/recompute-runs/     list runs / start a full recompute (regulators)
- GET /api/v1/credit/recompute-runs/{id}/     one run with its progress (regulators)
- GET /api/v1/registry/methodology/           how grades are computed, from the active model (public)
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import validated
from core.roles import is_regulator
from credit.models import CreditEvent
from credit.selectors import ratings as rating_selectors
from credit.services import events as event_services
from credit.services import ratings as rating_services


class IsRegulator(BasePermission):
    message = "Only regulators may do this."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and is_regulator(request.user))


PROBLEM = OpenApiResponse(description="application/problem+json")
REGULATOR_ERRORS = {401: PROBLEM, 403: PROBLEM}


# --- Credit events ----------------------------------------------------------------------


class CreditEventInputSerializer(serializers.Serializer):
    subject_id = serializers.IntegerField(min_value=1)
    kind = serializers.SlugField(max_length=60, help_text="An event kind code from the catalogue")
    source = serializers.ChoiceField(choices=CreditEvent.Source.choices, default=CreditEvent.Source.REGULATOR)
    occurred_at = serializers.DateTimeField()
    magnitude = serializers.DecimalField(max_digits=8, decimal_places=2, min_value=0, default=1)
    evidence_reference = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    source_reference = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class ReverseInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=4000)


class CreditEventSerializer(serializers.ModelSerializer):
    subject_id = serializers.IntegerField()
    kind = serializers.CharField(source="kind_id")
    component = serializers.CharField(source="kind.component")
    reverses = serializers.IntegerField(source="reverses_id", allow_null=True)
    recorded_by = serializers.CharField(source="recorded_by.username", allow_null=True, default=None)

    class Meta:
        model = CreditEvent
        fields = [
            "id",
            "subject_id",
            "kind",
            "component",
            "source",
            "occurred_at",
            "recorded_at",
            "magnitude",
            "evidence_reference",
            "source_reference",
            "recorded_by",
            "reverses",
            "reason",
        ]


class RecordCreditEventView(APIView):
    """Record a credit event for a subject. The subject's grade is recomputed within seconds."""

    permission_classes = [IsRegulator]

    @extend_schema(
        request=CreditEventInputSerializer,
        responses={201: CreditEventSerializer, 400: PROBLEM, 404: PROBLEM, **REGULATOR_ERRORS},
        tags=["credit events"],
    )
    def post(self, request):
        event = event_services.record_credit_event(
            actor=request.user, **validated(CreditEventInputSerializer, request.data)
        )
        return Response(CreditEventSerializer(event).data, status=status.HTTP_201_CREATED)


class ReverseCreditEventView(APIView):
    """Correct a mistaken event: a reversal event with a reason. Events are never edited or deleted."""

    permission_classes = [IsRegulator]

    @extend_schema(
        request=ReverseInputSerializer,
        responses={201: CreditEventSerializer, 400: PROBLEM, 404: PROBLEM, 409: PROBLEM, **REGULATOR_ERRORS},
        tags=["credit events"],
    )
    def post(self, request, event_id: int):
        reason = validated(ReverseInputSerializer, request.data)["reason"]
        reversal = event_services.reverse_credit_event(actor=request.user, event_id=event_id, reason=reason)
        return Response(CreditEventSerializer(reversal).data, status=status.HTTP_201_CREATED)


# --- Recompute runs ---------------------------------------------------------------------


class RecomputeRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    model_version = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    started_by = serializers.CharField()
    total_chunks = serializers.IntegerField()
    done_chunks = serializers.IntegerField()
    total_subjects = serializers.IntegerField()
    done_subjects = serializers.IntegerField()
    percent = serializers.FloatField()
    elapsed_seconds = serializers.FloatField()
    error = serializers.CharField(allow_blank=True)


class StartRunInputSerializer(serializers.Serializer):
    chunk_size = serializers.IntegerField(
        min_value=1, max_value=200_000, default=rating_services.DEFAULT_CHUNK_SIZE, required=False
    )


class RecomputeRunListView(generics.GenericAPIView):
    """Full recomputes, newest first (GET), or start one (POST; 409 while one is running)."""

    permission_classes = [IsRegulator]
    serializer_class = RecomputeRunSerializer

    def get_queryset(self):
        return rating_selectors.recompute_runs()

    @extend_schema(responses={200: RecomputeRunSerializer(many=True), **REGULATOR_ERRORS}, tags=["recompute"])
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        rows = [rating_selectors.run_progress(run) for run in page]
        return self.get_paginated_response(RecomputeRunSerializer(rows, many=True).data)

    @extend_schema(
        request=StartRunInputSerializer,
        responses={202: RecomputeRunSerializer, 400: PROBLEM, 409: PROBLEM, **REGULATOR_ERRORS},
        tags=["recompute"],
    )
    def post(self, request):
        chunk_size = validated(StartRunInputSerializer, request.data or {})["chunk_size"]
        run = rating_services.start_full_recompute(actor=request.user, chunk_size=chunk_size)
        progress = rating_selectors.recompute_run_progress(run_id=run.pk)
        return Response(RecomputeRunSerializer(progress).data, status=status.HTTP_202_ACCEPTED)


class RecomputeRunDetailView(APIView):
    """One full recompute with its progress."""

    permission_classes = [IsRegulator]

    @extend_schema(responses={200: RecomputeRunSerializer, 404: PROBLEM, **REGULATOR_ERRORS}, tags=["recompute"])
    def get(self, request, run_id: int):
        return Response(RecomputeRunSerializer(rating_selectors.recompute_run_progress(run_id=run_id)).data)


# --- Methodology ------------------------------------------------------------------------

MethodologySerializer = inline_serializer(
    "Methodology",
    {
        "version": serializers.IntegerField(),
        "published_at": serializers.DateTimeField(allow_null=True),
        "notes": serializers.CharField(),
        "score_range": serializers.ListField(child=serializers.FloatField()),
        "base": serializers.FloatField(),
        "formula": serializers.CharField(),
        "components": serializers.ListField(child=serializers.DictField()),
        "kinds": serializers.ListField(child=serializers.DictField()),
        "grades": serializers.ListField(child=serializers.DictField()),
        "new_subject": serializers.DictField(),
        "blacklist_override": serializers.DictField(),
        "reversals": serializers.CharField(),
        "reason_codes": serializers.CharField(),
        "recomputation": serializers.CharField(),
    },
)


class MethodologyView(APIView):
    """How scores and grades are computed, generated from the active scoring model version."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: MethodologySerializer}, tags=["registry"])
    def get(self, request):
        return Response(rating_selectors.methodology())
