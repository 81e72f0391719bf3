"""The blacklist API for regulators and for subjects' members.

Regulators create and lift entries, reply to and decide appeals and repair applications,
and see everything. A subject's members see their own subject's entries, appeals, repair
applications, standing and full record, and file appeals and repair applications. Anyone
else: 401 when anonymous, 403 for payment-provider API keys (they use the public registry
and screening), 404 for another subject's items. The public blacklist is H4's registry API.
"""

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import validated
from core.errors import InvalidInput, NotAllowed, NotFound
from core.roles import is_regulator
from credit import errors
from credit.api.blacklist_serializers import (
    AppealDecisionInputSerializer,
    AppealInputSerializer,
    AppealSerializer,
    EntryInputSerializer,
    EntrySerializer,
    ReasonInputSerializer,
    RecordSerializer,
    RepairDecisionInputSerializer,
    RepairInputSerializer,
    RepairSerializer,
    ReplyInputSerializer,
    StandingSerializer,
)
from credit.models import Appeal, BlacklistEntry, RepairApplication, Severity
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
        raise InvalidInput("subject_id must be a number.", field_errors={"subject_id": ["Enter a number."]}) from None


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
            raise NotAllowed("Only a regulator may blacklist a subject.", code="regulator_only")
        entry = services.blacklist_subject(actor=request.user, **validated(EntryInputSerializer, request.data))
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
        values = validated(ReasonInputSerializer, request.data)
        entry = services.lift_blacklist_entry(actor=request.user, entry_id=entry_id, **values)
        return Response(EntrySerializer(entry).data)


# --- Views: appeals and repairs ------------------------------------------------------------------


QUEUE_FILTERS = [
    OpenApiParameter("status", OpenApiTypes.STR),
    OpenApiParameter("overdue", OpenApiTypes.BOOL, description="Only items past their next deadline"),
]


class ReviewListView(generics.ListAPIView):
    # Appeals or repair applications (`model`) visible to the user, filtered.
    permission_classes = [IsSignedInUser]
    model: type = Appeal

    def get_queryset(self):
        qs = selectors.reviews_visible_to(model=self.model, user=self.request.user).order_by("-filed_at", "-id")
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


class ReviewDetailView(APIView):
    # One appeal or repair application (`workflow`), if visible to the user.
    permission_classes = [IsSignedInUser]
    workflow = services.APPEALS
    serializer_class = AppealSerializer

    def get(self, request, **kwargs):
        (pk,) = kwargs.values()
        item = selectors.reviews_visible_to(model=self.workflow.model, user=request.user).filter(pk=pk).first()
        if item is None:
            raise NotFound(f"No {self.workflow.noun} with id {pk}.", code=f"{self.workflow.kind}_not_found")
        return Response(self.serializer_class(item).data)


class ReviewReplyView(APIView):
    # The regulator replies to an appeal or repair application (`workflow`).
    permission_classes = [IsRegulator]
    workflow = services.APPEALS
    serializer_class = AppealSerializer

    def post(self, request, **kwargs):
        (pk,) = kwargs.values()
        item = self.workflow.reply(actor=request.user, pk=pk, **validated(ReplyInputSerializer, request.data))
        return Response(self.serializer_class(item).data)


class ReviewDecideView(APIView):
    # The regulator decides an appeal or repair application (`workflow`); the outcome
    # named like the workflow's granting transition grants it.
    permission_classes = [IsRegulator]
    workflow = services.APPEALS
    serializer_class = AppealSerializer
    input_serializer = AppealDecisionInputSerializer

    def post(self, request, **kwargs):
        (pk,) = kwargs.values()
        context = dict(validated(self.input_serializer, request.data))
        outcome, reasons = context.pop("outcome"), context.pop("reasons")
        item = self.workflow.decide(
            actor=request.user, pk=pk, grant=outcome == self.workflow.grant, reasons=reasons, **context
        )
        return Response(self.serializer_class(item).data)


class ReviewFileView(APIView):
    # A member of the entry's subject files an appeal or a repair application (`file`).
    permission_classes = [IsSignedInUser]
    input_serializer = AppealInputSerializer
    serializer_class = AppealSerializer
    file = staticmethod(services.file_appeal)

    def post(self, request, entry_id: int):
        selectors.get_entry_for(user=request.user, entry_id=entry_id)
        item = self.file(actor=request.user, entry_id=entry_id, **validated(self.input_serializer, request.data))
        return Response(self.serializer_class(item).data, status=status.HTTP_201_CREATED)


def _documented(method: str, **schema):
    """The schema of a view's inherited `method`, under the blacklist tag."""
    return extend_schema_view(**{method: extend_schema(tags=TAGS, **schema)})


@_documented("post", request=AppealInputSerializer, responses={201: AppealSerializer, **ERRORS})
class FileAppealView(ReviewFileView):
    """A member of the entry's subject files an appeal."""


@_documented("post", request=RepairInputSerializer, responses={201: RepairSerializer, **ERRORS})
class ApplyForRepairView(ReviewFileView):
    """A member of the entry's subject applies for credit repair."""

    input_serializer, serializer_class = RepairInputSerializer, RepairSerializer
    file = staticmethod(services.apply_for_repair)


@_documented("get", parameters=QUEUE_FILTERS, responses={200: AppealSerializer(many=True), **ERRORS})
class AppealListView(ReviewListView):
    """Regulators: every appeal. Members: their subjects' appeals."""

    serializer_class, model = AppealSerializer, Appeal


@_documented("get", parameters=QUEUE_FILTERS, responses={200: RepairSerializer(many=True), **ERRORS})
class RepairListView(ReviewListView):
    """Regulators: every repair application. Members: their subjects' applications."""

    serializer_class, model = RepairSerializer, RepairApplication


@_documented("get", responses={200: AppealSerializer, **ERRORS})
class AppealDetailView(ReviewDetailView):
    pass


@_documented("get", responses={200: RepairSerializer, **ERRORS})
class RepairDetailView(ReviewDetailView):
    workflow, serializer_class = services.REPAIRS, RepairSerializer


@_documented("post", request=ReplyInputSerializer, responses={200: AppealSerializer, **ERRORS})
class AppealReplyView(ReviewReplyView):
    pass


@_documented("post", request=AppealDecisionInputSerializer, responses={200: AppealSerializer, **ERRORS})
class AppealDecideView(ReviewDecideView):
    pass


@_documented("post", request=ReplyInputSerializer, responses={200: RepairSerializer, **ERRORS})
class RepairReplyView(ReviewReplyView):
    workflow, serializer_class = services.REPAIRS, RepairSerializer


@_documented("post", request=RepairDecisionInputSerializer, responses={200: RepairSerializer, **ERRORS})
class RepairDecideView(ReviewDecideView):
    workflow, serializer_class = services.REPAIRS, RepairSerializer
    input_serializer = RepairDecisionInputSerializer


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
