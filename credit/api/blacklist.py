"""The blacklist API for regulators and for subjects' members.

Regulators create and lift entries, reply to and decide appeals and repair applications,
and see everything. A subject's members see their own subject's entries, appeals, repair
applications, standing and full record, and file appeals and repair applications. Anyone
else: 401 when anonymous, 403 for payment-provider API keys (they use the public registry
and screening), 404 for another subject's items. The public blacklist is H4's registry API.
"""

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from credit import errors
from credit.models import Appeal, BlacklistEntry, CreditEvent, RepairApplication, Severity
from credit.roles import is_regulator
from credit.selectors import blacklist as selectors
from credit.selectors.accounts import get_subject, is_member
from credit.selectors.standing import ACTIONS, may_subject
from credit.services import blacklist as services

TAGS = ["blacklist"]


class IsSignedInUser(BasePermission):
    """A signed-in person (session or token). Payment-provider API keys are refused."""

    message = "This endpoint is for signed-in users; API keys use the public registry and screening."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated)


class IsRegulator(IsSignedInUser):
    message = "Only a regulator may do this."

    def has_permission(self, request, view):
        return super().has_permission(request, view) and is_regulator(request.user)


PROBLEM = OpenApiResponse(description="application/problem+json")
ERRORS = {400: PROBLEM, 401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM}


# --- Serializers ---------------------------------------------------------------------------


class SubjectRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    country = serializers.CharField()
    registration_number = serializers.CharField()
    legal_name = serializers.CharField()


class EntrySerializer(serializers.ModelSerializer):
    subject = SubjectRefSerializer(read_only=True)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True)
    earliest_repair_on = serializers.SerializerMethodField()

    class Meta:
        model = BlacklistEntry
        fields = [
            "id",
            "subject",
            "category",
            "legal_basis",
            "decision_reference",
            "description",
            "severity",
            "fine_amount",
            "fine_currency",
            "fine_paid",
            "starts_on",
            "publication_ends_on",
            "decided_by",
            "status",
            "status_changed_at",
            "status_reason",
            "created_at",
            "earliest_repair_on",
        ]

    def get_earliest_repair_on(self, entry) -> str:
        return services.earliest_repair_date(entry=entry).isoformat()


class EntryInputSerializer(serializers.Serializer):
    subject_id = serializers.IntegerField()
    category = serializers.ChoiceField(choices=BlacklistEntry.Category.choices)
    legal_basis = serializers.CharField(max_length=500)
    decision_reference = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=4000)
    severity = serializers.ChoiceField(choices=Severity.choices)
    starts_on = serializers.DateField(required=False, help_text="Default today; never in the future")
    publication_ends_on = serializers.DateField(
        required=False, help_text="Exclusive. Default: start + the severity's maximum period"
    )
    fine_amount = serializers.DecimalField(max_digits=16, decimal_places=2, required=False, allow_null=True)
    fine_currency = serializers.CharField(max_length=3, required=False, allow_blank=True, default="")
    fine_paid = serializers.BooleanField(required=False, default=False)


class ReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=4000)


class AppealSerializer(serializers.ModelSerializer):
    entry_id = serializers.IntegerField(read_only=True)
    subject_id = serializers.IntegerField(source="entry.subject_id", read_only=True)
    filed_by = serializers.CharField(source="filed_by.username", read_only=True)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True, default=None)
    next_step = serializers.SerializerMethodField()
    next_step_due_on = serializers.SerializerMethodField()
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = Appeal
        fields = [
            "id",
            "entry_id",
            "subject_id",
            "challenge",
            "grounds",
            "status",
            "filed_by",
            "filed_at",
            "reply_due_on",
            "replied_at",
            "reply",
            "decision_due_on",
            "decided_at",
            "decided_by",
            "decision_reasons",
            "next_step",
            "next_step_due_on",
            "overdue",
        ]

    def _deadline(self, obj):
        return selectors.next_deadline(obj)

    def get_next_step(self, obj) -> str | None:
        deadline = self._deadline(obj)
        return deadline.step if deadline else None

    def get_next_step_due_on(self, obj) -> str | None:
        deadline = self._deadline(obj)
        return deadline.due_on.isoformat() if deadline else None

    def get_overdue(self, obj) -> bool:
        deadline = self._deadline(obj)
        return bool(deadline and deadline.overdue)


class RepairSerializer(AppealSerializer):
    class Meta:
        model = RepairApplication
        fields = [
            "id",
            "entry_id",
            "subject_id",
            "correction_evidence",
            "commitment",
            "status",
            "filed_by",
            "filed_at",
            "reply_due_on",
            "replied_at",
            "reply",
            "decision_due_on",
            "decided_at",
            "decided_by",
            "decision_reasons",
            "next_step",
            "next_step_due_on",
            "overdue",
        ]


class AppealInputSerializer(serializers.Serializer):
    challenge = serializers.ChoiceField(choices=Appeal.Challenge.choices)
    grounds = serializers.CharField(max_length=8000)


class RepairInputSerializer(serializers.Serializer):
    correction_evidence = serializers.CharField(max_length=8000, help_text="How the misconduct was corrected")
    commitment = serializers.CharField(max_length=8000, help_text="The subject's credit commitment")


class ReplyInputSerializer(serializers.Serializer):
    reply = serializers.CharField(max_length=8000)


class AppealDecisionInputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=[("uphold", "Uphold"), ("dismiss", "Dismiss")])
    reasons = serializers.CharField(max_length=8000)
    new_publication_ends_on = serializers.DateField(
        required=False, help_text="Required when upholding a period challenge (exclusive end)"
    )


class RepairDecisionInputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    reasons = serializers.CharField(max_length=8000)


StandingSerializer = inline_serializer(
    "Standing",
    {
        "subject_id": serializers.IntegerField(),
        "action": serializers.ChoiceField(choices=list(ACTIONS)),
        "allowed": serializers.BooleanField(),
        "reasons": serializers.ListField(child=serializers.DictField()),
    },
)


class EventRecordSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(source="kind_id")
    reverses = serializers.IntegerField(source="reverses_id", allow_null=True)

    class Meta:
        model = CreditEvent
        fields = [
            "id",
            "kind",
            "source",
            "occurred_at",
            "recorded_at",
            "magnitude",
            "evidence_reference",
            "source_reference",
            "reverses",
            "reason",
        ]


class RecordSerializer(serializers.Serializer):
    subject = SubjectRefSerializer()
    grade = serializers.CharField(source="subject.grade")
    score = serializers.DecimalField(source="subject.score", max_digits=6, decimal_places=2, allow_null=True)
    is_blacklisted = serializers.BooleanField(source="subject.is_blacklisted")
    events = EventRecordSerializer(many=True)
    entries = EntrySerializer(many=True)
    appeals = AppealSerializer(many=True)
    repairs = RepairSerializer(many=True)


# --- Views: entries ----------------------------------------------------------------------------


ENTRY_FILTERS = [
    OpenApiParameter("status", OpenApiTypes.STR, enum=BlacklistEntry.Status.values),
    OpenApiParameter("severity", OpenApiTypes.STR, enum=Severity.values),
    OpenApiParameter("category", OpenApiTypes.STR, enum=BlacklistEntry.Category.values),
    OpenApiParameter("country", OpenApiTypes.STR, description="ISO 3166-1 alpha-2"),
    OpenApiParameter("subject_id", OpenApiTypes.INT),
    OpenApiParameter("q", OpenApiTypes.STR, description="Name, registration number or decision reference"),
]


def _int_or_none(value):
    try:
        number = int(value) if value not in (None, "") else None
        if number is not None and not 0 < number < 2**63:  # beyond any id; overflows bigint
            raise ValueError
        return number
    except ValueError:
        raise errors.InvalidInput(
            "subject_id must be a number.", field_errors={"subject_id": ["Enter a number."]}
        ) from None


class EntryListCreateView(generics.ListAPIView):
    """Regulators: every entry, filterable. Members: the entries of the subjects they act for."""

    permission_classes = [IsSignedInUser]
    serializer_class = EntrySerializer

    def get_queryset(self):
        p = self.request.query_params
        qs = selectors.entries_for_regulator(
            status=p.get("status") or None,
            severity=p.get("severity") or None,
            category=p.get("category") or None,
            country=p.get("country") or None,
            q=p.get("q") or None,
            subject_id=_int_or_none(p.get("subject_id")),
        )
        visible = selectors.entries_visible_to(user=self.request.user)
        return qs.filter(pk__in=visible.values("pk")) if not is_regulator(self.request.user) else qs

    @extend_schema(parameters=ENTRY_FILTERS, tags=TAGS, responses={200: EntrySerializer(many=True), **ERRORS})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=EntryInputSerializer,
        responses={201: EntrySerializer, **ERRORS},
        tags=TAGS,
        description="Blacklist a subject (regulators). A second active entry for the same decision is 409.",
    )
    def post(self, request):
        if not is_regulator(request.user):
            raise errors.NotAllowed("Only a regulator may blacklist a subject.", code="regulator_only")
        data = EntryInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = services.blacklist_subject(actor=request.user, **data.validated_data)
        return Response(EntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class EntryDetailView(APIView):
    permission_classes = [IsSignedInUser]

    @extend_schema(responses={200: EntrySerializer, **ERRORS}, tags=TAGS)
    def get(self, request, entry_id: int):
        return Response(EntrySerializer(selectors.get_entry_for(user=request.user, entry_id=entry_id)).data)


class EntryLiftView(APIView):
    permission_classes = [IsRegulator]

    @extend_schema(request=ReasonInputSerializer, responses={200: EntrySerializer, **ERRORS}, tags=TAGS)
    def post(self, request, entry_id: int):
        data = ReasonInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = services.lift_blacklist_entry(actor=request.user, entry_id=entry_id, **data.validated_data)
        return Response(EntrySerializer(entry).data)


class FileAppealView(APIView):
    """A member of the entry's subject files an appeal."""

    permission_classes = [IsSignedInUser]

    @extend_schema(request=AppealInputSerializer, responses={201: AppealSerializer, **ERRORS}, tags=TAGS)
    def post(self, request, entry_id: int):
        selectors.get_entry_for(user=request.user, entry_id=entry_id)
        data = AppealInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        appeal = services.file_appeal(actor=request.user, entry_id=entry_id, **data.validated_data)
        return Response(AppealSerializer(appeal).data, status=status.HTTP_201_CREATED)


class ApplyForRepairView(APIView):
    """A member of the entry's subject applies for credit repair."""

    permission_classes = [IsSignedInUser]

    @extend_schema(request=RepairInputSerializer, responses={201: RepairSerializer, **ERRORS}, tags=TAGS)
    def post(self, request, entry_id: int):
        selectors.get_entry_for(user=request.user, entry_id=entry_id)
        data = RepairInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        repair = services.apply_for_repair(actor=request.user, entry_id=entry_id, **data.validated_data)
        return Response(RepairSerializer(repair).data, status=status.HTTP_201_CREATED)


# --- Views: appeals and repairs ------------------------------------------------------------------


QUEUE_FILTERS = [
    OpenApiParameter("status", OpenApiTypes.STR),
    OpenApiParameter("overdue", OpenApiTypes.BOOL, description="Only items past their next deadline"),
]


class _QueueListView(generics.ListAPIView):
    permission_classes = [IsSignedInUser]

    def visible(self):
        raise NotImplementedError

    def get_queryset(self):
        qs = self.visible().order_by("-filed_at", "-id")
        wanted = self.request.query_params.get("status")
        if wanted:
            qs = qs.filter(status=wanted)
        return qs

    def list(self, request, *args, **kwargs):
        items = list(self.get_queryset())
        if request.query_params.get("overdue") in ("1", "true", "yes"):
            items = [i for i in items if (d := selectors.next_deadline(i)) and d.overdue]
        page = self.paginate_queryset(items)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class AppealListView(_QueueListView):
    """Regulators: every appeal. Members: their subjects' appeals."""

    serializer_class = AppealSerializer

    def visible(self):
        return selectors.appeals_visible_to(user=self.request.user)

    @extend_schema(parameters=QUEUE_FILTERS, tags=TAGS, responses={200: AppealSerializer(many=True), **ERRORS})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RepairListView(_QueueListView):
    """Regulators: every repair application. Members: their subjects' applications."""

    serializer_class = RepairSerializer

    def visible(self):
        return selectors.repairs_visible_to(user=self.request.user)

    @extend_schema(parameters=QUEUE_FILTERS, tags=TAGS, responses={200: RepairSerializer(many=True), **ERRORS})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AppealDetailView(APIView):
    permission_classes = [IsSignedInUser]

    @extend_schema(responses={200: AppealSerializer, **ERRORS}, tags=TAGS)
    def get(self, request, appeal_id: int):
        appeal = selectors.appeals_visible_to(user=request.user).filter(pk=appeal_id).first()
        if appeal is None:
            raise errors.NotFound(f"No appeal with id {appeal_id}.", code="appeal_not_found")
        return Response(AppealSerializer(appeal).data)


class RepairDetailView(APIView):
    permission_classes = [IsSignedInUser]

    @extend_schema(responses={200: RepairSerializer, **ERRORS}, tags=TAGS)
    def get(self, request, repair_id: int):
        repair = selectors.repairs_visible_to(user=request.user).filter(pk=repair_id).first()
        if repair is None:
            raise errors.NotFound(f"No repair application with id {repair_id}.", code="repair_not_found")
        return Response(RepairSerializer(repair).data)


class AppealReplyView(APIView):
    permission_classes = [IsRegulator]

    @extend_schema(request=ReplyInputSerializer, responses={200: AppealSerializer, **ERRORS}, tags=TAGS)
    def post(self, request, appeal_id: int):
        data = ReplyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        appeal = services.reply_to_appeal(actor=request.user, appeal_id=appeal_id, **data.validated_data)
        return Response(AppealSerializer(appeal).data)


class AppealDecideView(APIView):
    permission_classes = [IsRegulator]

    @extend_schema(request=AppealDecisionInputSerializer, responses={200: AppealSerializer, **ERRORS}, tags=TAGS)
    def post(self, request, appeal_id: int):
        data = AppealDecisionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        appeal = services.decide_appeal(
            actor=request.user,
            appeal_id=appeal_id,
            uphold=data.validated_data["outcome"] == "uphold",
            reasons=data.validated_data["reasons"],
            new_publication_ends_on=data.validated_data.get("new_publication_ends_on"),
        )
        return Response(AppealSerializer(appeal).data)


class RepairReplyView(APIView):
    permission_classes = [IsRegulator]

    @extend_schema(request=ReplyInputSerializer, responses={200: RepairSerializer, **ERRORS}, tags=TAGS)
    def post(self, request, repair_id: int):
        data = ReplyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        repair = services.reply_to_repair(actor=request.user, repair_id=repair_id, **data.validated_data)
        return Response(RepairSerializer(repair).data)


class RepairDecideView(APIView):
    permission_classes = [IsRegulator]

    @extend_schema(request=RepairDecisionInputSerializer, responses={200: RepairSerializer, **ERRORS}, tags=TAGS)
    def post(self, request, repair_id: int):
        data = RepairDecisionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        repair = services.decide_repair(
            actor=request.user,
            repair_id=repair_id,
            approve=data.validated_data["outcome"] == "approve",
            reasons=data.validated_data["reasons"],
        )
        return Response(RepairSerializer(repair).data)


# --- Views: a subject's standing and record -----------------------------------------------------


def _subject_for(user, subject_id: int):
    """The subject, if the user is a regulator or acts for it; otherwise 404."""
    subject = get_subject(subject_id=subject_id)
    if not (is_regulator(user) or is_member(user=user, subject_id=subject.pk)):
        raise errors.SubjectNotFound(f"No subject with id {subject_id}.")
    return subject


class StandingView(APIView):
    """May this subject lease, list capacity or act as a payment institution? With reasons."""

    permission_classes = [IsSignedInUser]

    @extend_schema(
        parameters=[OpenApiParameter("action", OpenApiTypes.STR, enum=list(ACTIONS), required=True)],
        responses={200: StandingSerializer, **ERRORS},
        tags=TAGS,
    )
    def get(self, request, subject_id: int):
        subject = _subject_for(request.user, subject_id)
        action = request.query_params.get("action", "")
        decision = may_subject(subject_id=subject.pk, action=action)
        return Response(
            {"subject_id": subject.pk, "action": action, "allowed": decision.allowed, "reasons": decision.reasons}
        )


class RecordView(APIView):
    """A subject's full record (events with private evidence references, entries, appeals,
    repairs), for its members and for regulators."""

    permission_classes = [IsSignedInUser]

    @extend_schema(responses={200: RecordSerializer, **ERRORS}, tags=TAGS)
    def get(self, request, subject_id: int):
        try:
            record = selectors.subject_record(user=request.user, subject_id=subject_id)
        except Http404:
            raise errors.SubjectNotFound() from None
        return Response(RecordSerializer(record).data)
