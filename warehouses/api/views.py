"""Warehouse marketplace API. Reads go through selectors (visibility rules); each write
is one view: input serializer -> service -> output serializer."""

import json
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import BasePagination
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from credit.selectors import accounts
from credit.selectors.accounts import subject_ids_acted_for
from payments import idempotency
from payments.selectors import escrow_summaries
from warehouses import selectors
from warehouses.api import serializers as s
from warehouses.api.fast import represent
from warehouses.errors import LeaseNotFound
from warehouses.models import Lease, LeaseTransfer, Listing, Warehouse
from warehouses.services import escrow as escrow_services
from warehouses.services import leases as lease_services
from warehouses.services import listings as listing_services
from warehouses.services import reviews as review_services
from warehouses.services import transfers as transfer_services

PROBLEM = OpenApiResponse(description="application/problem+json with `code`, `detail` and per-field `errors`")
ERRORS = {400: PROBLEM, 401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM}
TAGS = ["warehouses"]


def acting_subject(user, given: int | None, field: str) -> int:
    """The id of the subject the user acts for: the one given (if theirs), or their only one."""
    return accounts.acting_subject(user=user, subject_id=given, field=field).pk


MAX_PAGE_NUMBER = 1_000_000


class SearchPagination(BasePagination):
    """Page numbers without a total: counting every available listing would cost more
    than finding the page. `next` is null on the last page."""

    page_size = 25
    max_page_size = 200

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        try:
            self.page = int(request.query_params.get("page", 1))
            size = int(request.query_params.get("page_size", self.page_size))
        except ValueError:
            raise ValidationError({"page": ["Use whole numbers for page and page_size."]}) from None
        if self.page < 1 or size < 1:
            raise ValidationError({"page": ["Pages and page sizes start at 1."]})
        self.size = min(size, self.max_page_size)
        offset = (self.page - 1) * self.size
        # Past any real result set; a huge OFFSET would overflow the database's integer.
        rows = list(queryset[offset : offset + self.size + 1]) if self.page <= MAX_PAGE_NUMBER else []
        self.has_next = len(rows) > self.size
        return rows[: self.size]

    def get_paginated_response(self, data):
        url = self.request.build_absolute_uri()
        return Response(
            {
                "page": self.page,
                "next": replace_query_param(url, "page", self.page + 1) if self.has_next else None,
                "previous": replace_query_param(url, "page", self.page - 1) if self.page > 1 else None,
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["page", "results"],
            "properties": {
                "page": {"type": "integer"},
                "next": {"type": "string", "format": "uri", "nullable": True},
                "previous": {"type": "string", "format": "uri", "nullable": True},
                "results": schema,
            },
        }


class ListingListView(GenericAPIView):
    """GET: availability-aware search of published listings (public). POST: an operator
    creates a listing (draft unless `publish`)."""

    serializer_class = s.ListingSerializer
    queryset = Listing.objects.none()
    pagination_class = SearchPagination

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "GET" else [IsAuthenticated()]

    @extend_schema(
        parameters=[s.ListingSearchSerializer],
        responses={200: s.ListingSerializer(many=True), 400: PROBLEM},
        tags=TAGS,
        description=(
            "Dates are calendar days and the range is half-open [start, end): a lease ending on a day leaves that day "
            "free. With start and end, only listings with at least `units` (default 1) free on every day of the "
            "range are returned, each with the total price (`quote`) and the operator's grade. Sort by `price`, "
            "`-price`, `grade` (best operator first) or `distance` (needs lat and lon)."
        ),
    )
    def get(self, request):
        params = s.ListingSearchSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        search = selectors.ListingSearch(**params.validated_data)
        page = self.paginate_queryset(selectors.search_listings(search=search))
        data = s.ListingSerializer(page, many=True, context={"search": search}).data
        return self.get_paginated_response(data)

    @extend_schema(request=s.ListingInputSerializer, responses={201: s.ListingSerializer, **ERRORS}, tags=TAGS)
    def post(self, request):
        data = s.ListingInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        listing = listing_services.create_listing(actor=request.user, warehouse_id=values.pop("warehouse"), **values)
        listing = selectors.get_listing(user=request.user, listing_id=listing.pk)
        return Response(s.ListingSerializer(listing).data, status=status.HTTP_201_CREATED)


class ListingDetailView(APIView):
    def get_permissions(self):
        return [AllowAny()] if self.request.method == "GET" else [IsAuthenticated()]

    @extend_schema(responses={200: s.ListingSerializer, 404: PROBLEM}, tags=TAGS)
    def get(self, request, listing_id: int):
        return Response(s.ListingSerializer(selectors.get_listing(user=request.user, listing_id=listing_id)).data)

    @extend_schema(request=s.ListingUpdateSerializer, responses={200: s.ListingSerializer, **ERRORS}, tags=TAGS)
    def patch(self, request, listing_id: int):
        data = s.ListingUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        selectors.get_own_listing(user=request.user, listing_id=listing_id)
        with transaction.atomic():  # all of the changes or none
            if "units" in values:
                listing_services.change_listing_capacity(
                    actor=request.user, listing_id=listing_id, units=values.pop("units")
                )
            if "available_until" in values:
                listing_services.extend_listing(
                    actor=request.user, listing_id=listing_id, available_until=values.pop("available_until")
                )
            new_status = values.pop("status", None)
            if values:
                listing_services.update_listing_terms(actor=request.user, listing_id=listing_id, **values)
            if new_status:
                listing_services.set_listing_status(actor=request.user, listing_id=listing_id, status=new_status)
        return Response(s.ListingSerializer(selectors.get_own_listing(user=request.user, listing_id=listing_id)).data)


class ListingCalendarView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATE, description="First day (default: today)"),
            OpenApiParameter("end", OpenApiTypes.DATE, description="Exclusive (default: start + 60 days)"),
        ],
        responses={200: s.CalendarDaySerializer(many=True), 404: PROBLEM},
        tags=TAGS,
        description="The operator's per-day availability calendar of one of their listings.",
    )
    def get(self, request, listing_id: int):
        listing = selectors.get_own_listing(user=request.user, listing_id=listing_id)
        rng = s.ListingSearchSerializer(
            data={k: request.query_params[k] for k in ("start", "end") if k in request.query_params}
        )
        rng.is_valid(raise_exception=True)
        start = rng.validated_data.get("start") or max(timezone.localdate(), listing.available_from)
        end = rng.validated_data.get("end") or start + timedelta(days=60)
        days = selectors.calendar(listing=listing, start=start, end=end)
        return Response([{"day": d.day, "capacity": d.capacity, "reserved": d.reserved, "free": d.free} for d in days])


class WarehouseListView(GenericAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = s.WarehouseSerializer
    queryset = Warehouse.objects.none()

    @extend_schema(responses={200: s.WarehouseSerializer(many=True)}, tags=TAGS)
    def get(self, request):
        page = self.paginate_queryset(selectors.warehouses_of(user=request.user).order_by("name", "id"))
        return self.get_paginated_response(s.WarehouseSerializer(page, many=True).data)

    @extend_schema(request=s.WarehouseInputSerializer, responses={201: s.WarehouseSerializer, **ERRORS}, tags=TAGS)
    def post(self, request):
        data = s.WarehouseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        owner = acting_subject(request.user, values.pop("owner", None), "owner")
        warehouse = listing_services.create_warehouse(actor=request.user, owner_id=owner, **values)
        return Response(s.WarehouseSerializer(warehouse).data, status=status.HTTP_201_CREATED)


class WarehouseDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: s.WarehouseSerializer, 404: PROBLEM}, tags=TAGS)
    def get(self, request, warehouse_id: int):
        return Response(
            s.WarehouseSerializer(selectors.get_own_warehouse(user=request.user, warehouse_id=warehouse_id)).data
        )

    @extend_schema(request=s.WarehouseInputSerializer, responses={200: s.WarehouseSerializer, **ERRORS}, tags=TAGS)
    def patch(self, request, warehouse_id: int):
        data = s.WarehouseInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = {k: v for k, v in data.validated_data.items() if k != "owner" and k in data.initial_data}
        selectors.get_own_warehouse(user=request.user, warehouse_id=warehouse_id)
        warehouse = listing_services.update_warehouse(actor=request.user, warehouse_id=warehouse_id, **values)
        return Response(s.WarehouseSerializer(warehouse).data)


class LeaseListView(GenericAPIView):
    """GET: the leases you can see (as tenant or operator). POST: request a lease; needs
    an `Idempotency-Key` header."""

    permission_classes = [IsAuthenticated]
    serializer_class = s.LeaseSerializer
    queryset = Lease.objects.none()

    @extend_schema(
        parameters=[
            OpenApiParameter("role", str, enum=["tenant", "operator"], description="Only as tenant or as operator"),
            OpenApiParameter("status", str, enum=list(Lease.Status.values)),
        ],
        responses={200: s.LeaseSerializer(many=True)},
        tags=TAGS,
    )
    def get(self, request):
        role = request.query_params.get("role")
        qs = selectors.leases_visible_to(user=request.user, role=role if role in ("tenant", "operator") else None)
        if request.query_params.get("status") in Lease.Status.values:
            qs = qs.filter(status=request.query_params["status"])
        page = self.paginate_queryset(qs.order_by("-requested_at", "-id"))
        summaries = escrow_summaries(references=[lease.escrow_ref for lease in page])  # one batch per page
        # A split lease's `due` is the price of every live lease sharing its escrow: one
        # query for all the shared escrows on the page.
        live = escrow_services.LIVE
        shared = {lease.escrow_reference for lease in page if lease.escrow_reference and lease.status in live}
        context = {"escrow_summaries": summaries, "live_prices": escrow_services.live_prices(references=shared)}
        return self.get_paginated_response(s.LeaseSerializer(page, many=True, context=context).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="Same key + same body replays the first response; another body: 422; in flight: 409",
            )
        ],
        request=s.LeaseRequestSerializer,
        responses={201: s.LeaseSerializer, 422: PROBLEM, **ERRORS},
        tags=TAGS,
        description=(
            "Holds `units` on [start, end) (end not included). Instant listings approve at once when the tenant's "
            "grade allows instant booking; otherwise the lease is `held` until the operator answers (deadline "
            "`hold_expires_at`, 24 hours). A refusal by the credit gate answers 403 with the reasons in "
            "`errors.credit`."
        ),
    )
    def post(self, request):
        def handle():
            data = s.LeaseRequestSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            v = data.validated_data
            lease = lease_services.request_lease(
                actor=request.user,
                tenant_id=v.get("tenant"),
                listing_id=v["listing"],
                units=v["units"],
                start=v["start"],
                end=v["end"],
                note=v["note"],
            )
            # The service returns the lease with its tenant, listing, warehouse and operator
            # loaded: no second read.
            # Nothing can be paid into the escrow of a lease created a moment ago: no read.
            data = represent(s.LeaseSerializer, lease, context={"escrow_summaries": {lease.escrow_ref: s.UNPAID}})
            return status.HTTP_201_CREATED, json.loads(json.dumps(data, default=str))

        # payments' Idempotency-Key mechanism, keyed per user, in the lease's own transaction.
        # Only a success is stored: a refusal (bad input, no capacity, busy) frees the key,
        # so a retry runs again.
        code, body, replayed = idempotency.run_in_one_transaction(
            owner=idempotency.owner_for(user=request.user),
            key=request.headers.get("Idempotency-Key", ""),
            fingerprint=idempotency.fingerprint_data(method=request.method, path=request.path, data=request.data),
            handler=handle,
        )
        return Response(body, status=code, headers={"Idempotent-Replayed": "true"} if replayed else {})


class LeaseDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: s.LeaseSerializer, 404: PROBLEM}, tags=TAGS)
    def get(self, request, lease_id: int):
        return Response(s.LeaseSerializer(selectors.get_lease(user=request.user, lease_id=lease_id)).data)


def _lease_action_view(action: str, service, *, with_reason: bool, doc: str):
    class LeaseActionView(APIView):
        permission_classes = [IsAuthenticated]

        @extend_schema(
            request=s.LeaseReasonInputSerializer if with_reason else None,
            responses={200: s.LeaseSerializer, **ERRORS},
            tags=TAGS,
            description=doc,
            operation_id=f"warehouses_leases_{action.replace('-', '_')}",
        )
        def post(self, request, lease_id: int):
            selectors.get_lease(user=request.user, lease_id=lease_id)  # 404 for anyone who cannot see it
            kwargs = {}
            if with_reason:
                data = s.LeaseReasonInputSerializer(data=request.data)
                data.is_valid(raise_exception=True)
                kwargs["reason"] = data.validated_data["reason"]
            service(actor=request.user, lease_id=lease_id, **kwargs)
            return Response(s.LeaseSerializer(selectors.get_lease(user=request.user, lease_id=lease_id)).data)

    LeaseActionView.__name__ = f"Lease{action.title().replace('-', '')}View"
    return LeaseActionView


LeaseApproveView = _lease_action_view(
    "approve",
    lease_services.approve_lease,
    with_reason=False,
    doc="The operator approves a held request before its deadline (the credit gate is checked again).",
)
LeaseRejectView = _lease_action_view(
    "reject", lease_services.reject_lease, with_reason=True, doc="The operator rejects a held request; units are freed."
)
LeaseCheckInView = _lease_action_view(
    "check-in",
    lease_services.check_in_lease,
    with_reason=False,
    doc="The operator confirms the goods arrived: an approved lease becomes active (from its start day).",
)
LeaseCompleteView = _lease_action_view(
    "complete",
    lease_services.complete_lease,
    with_reason=False,
    doc="The operator completes an active lease once its end day has come.",
)
LeaseNoShowView = _lease_action_view(
    "no-show",
    lease_services.report_no_show,
    with_reason=True,
    doc="The operator records that the tenant never checked in (from the day after the start): lease_defaulted.",
)
LeaseWithdrawView = _lease_action_view(
    "withdraw",
    lease_services.withdraw_lease,
    with_reason=True,
    doc="The operator backs out of an approved lease (reason required): recorded as the operator's default.",
)
LeaseCancelView = _lease_action_view(
    "cancel",
    lease_services.cancel_lease,
    with_reason=True,
    doc=(
        "The tenant cancels a held or approved lease. Free for held requests and up to the listing's free "
        "cancellation window before the start; later, the listing's fee applies (recorded as late_cancellation)."
    ),
)


# --- Lease transfers and reviews ------------------------------------------------------------


class LeaseTransferOfferView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=s.TransferOfferInputSerializer,
        responses={201: s.LeaseTransferSerializer, **ERRORS},
        tags=TAGS,
        operation_id="warehouses_leases_transfers_create",
        description=(
            "The tenant offers `units` of an approved or active lease, for its remaining days [effective_from, end) "
            "with effective_from = max(today, start) fixed at execution, to the subject `to_subject`. The offer "
            "lapses after 72 hours. Units 0 or above the lease, a transfer to the tenant itself, a lease that is "
            "not approved/active or has no days left: 400 with field errors. Another open offer: 409."
        ),
    )
    def post(self, request, lease_id: int):
        lease = selectors.get_lease(user=request.user, lease_id=lease_id)  # 404 for anyone who cannot see it
        if lease.tenant_id not in subject_ids_acted_for(user=request.user):
            raise LeaseNotFound()  # only the tenant offers; the operator sees no such action either
        data = s.TransferOfferInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        transfer = transfer_services.offer_transfer(
            actor=request.user, lease_id=lease_id, to_subject_id=v["to_subject"], units=v["units"], note=v["note"]
        )
        transfer = selectors.get_transfer(user=request.user, transfer_id=transfer.pk)
        return Response(s.LeaseTransferSerializer(transfer).data, status=status.HTTP_201_CREATED)


class TransferListView(GenericAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = s.LeaseTransferSerializer
    queryset = LeaseTransfer.objects.none()

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "role", str, enum=["from", "to", "operator"], description="As transferor, recipient or operator"
            ),
            OpenApiParameter("status", str, enum=list(LeaseTransfer.Status.values)),
            OpenApiParameter("lease", int, description="Transfers of one lease"),
        ],
        responses={200: s.LeaseTransferSerializer(many=True)},
        tags=TAGS,
        description="Transfers you are party to (as transferor, recipient or the listing's operator).",
    )
    def get(self, request):
        qs = selectors.transfers_visible_to(user=request.user, role=request.query_params.get("role"))
        if request.query_params.get("status") in LeaseTransfer.Status.values:
            qs = qs.filter(status=request.query_params["status"])
        lease = request.query_params.get("lease", "")
        if lease.isascii() and lease.isdigit():  # '²'.isdigit() is True too, and int('²') fails
            qs = qs.filter(lease_id=int(lease))
        page = self.paginate_queryset(qs.order_by("-created_at", "-id"))
        return self.get_paginated_response(s.LeaseTransferSerializer(page, many=True).data)


class TransferDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: s.LeaseTransferSerializer, 404: PROBLEM}, tags=TAGS)
    def get(self, request, transfer_id: int):
        return Response(
            s.LeaseTransferSerializer(selectors.get_transfer(user=request.user, transfer_id=transfer_id)).data
        )


def _transfer_action_view(action: str, call, *, request_serializer, doc: str):
    class TransferActionView(APIView):
        permission_classes = [IsAuthenticated]

        @extend_schema(
            request=request_serializer,
            responses={200: s.LeaseTransferSerializer, **ERRORS},
            tags=TAGS,
            description=doc,
            operation_id=f"warehouses_transfers_{action}",
        )
        def post(self, request, transfer_id: int):
            selectors.get_transfer(user=request.user, transfer_id=transfer_id)  # 404 for anyone else
            data = request_serializer(data=request.data)
            data.is_valid(raise_exception=True)
            call(request.user, transfer_id, data.validated_data)
            return Response(
                s.LeaseTransferSerializer(selectors.get_transfer(user=request.user, transfer_id=transfer_id)).data
            )

    TransferActionView.__name__ = f"Transfer{action.title()}View"
    return TransferActionView


TransferAcceptView = _transfer_action_view(
    "accept",
    lambda user, tid, v: transfer_services.accept_transfer(
        actor=user, transfer_id=tid, institution_id=v["institution"]
    ),
    request_serializer=s.TransferAcceptInputSerializer,
    doc=(
        "The recipient accepts, naming the payment institution it pays through (it must be compliant with a "
        "corridor for the lease's currency and country: otherwise 400 on `institution`). The recipient passes the "
        "same credit gate as a new tenant: a refusal answers 403 with the reasons in `errors.credit` and closes "
        "the transfer as `refused`. Then `awaiting_operator` if the listing needs consent, else `completed` at "
        "once (the lease is split and the escrow follows). Repeating an accept returns the transfer unchanged."
    ),
)
TransferConsentView = _transfer_action_view(
    "consent",
    lambda user, tid, v: transfer_services.consent_transfer(actor=user, transfer_id=tid),
    request_serializer=s.TransferReasonInputSerializer,
    doc="The operator consents to a transfer awaiting consent; the credit gate is asked again, then it executes.",
)
TransferDeclineView = _transfer_action_view(
    "decline",
    lambda user, tid, v: transfer_services.decline_transfer(actor=user, transfer_id=tid, reason=v["reason"]),
    request_serializer=s.TransferReasonInputSerializer,
    doc="The operator declines a transfer awaiting consent (reason required), or the recipient declines an offer.",
)
TransferWithdrawView = _transfer_action_view(
    "withdraw",
    lambda user, tid, v: transfer_services.withdraw_transfer(actor=user, transfer_id=tid, reason=v["reason"]),
    request_serializer=s.TransferReasonInputSerializer,
    doc="The transferor withdraws an offer that has not executed yet.",
)


class LeaseReviewView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=s.ReviewInputSerializer,
        responses={201: s.LeaseReviewSerializer, **ERRORS},
        tags=TAGS,
        description=(
            "After completion each party (tenant, operator) rates the other once, 1-5 stars, within "
            "ENTREPOT['REVIEW_WINDOW_DAYS'] (30) days. 4-5 stars record a positive_rating credit event for the "
            "reviewed party, 1-2 a negative_rating, 3 none. Not completed, window closed or already reviewed: 409."
        ),
    )
    def post(self, request, lease_id: int):
        selectors.get_lease(user=request.user, lease_id=lease_id)
        data = s.ReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        review = review_services.review_lease(
            actor=request.user, lease_id=lease_id, stars=v["stars"], comment=v["comment"], reviewer_id=v.get("reviewer")
        )
        return Response(s.LeaseReviewSerializer(review).data, status=status.HTTP_201_CREATED)


class LeaseReviewListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: s.LeaseReviewSerializer(many=True), 404: PROBLEM}, tags=TAGS)
    def get(self, request, lease_id: int):
        lease = selectors.get_lease(user=request.user, lease_id=lease_id)
        return Response(s.LeaseReviewSerializer(selectors.lease_reviews(lease=lease), many=True).data)


# --- Escrow and disputes ---------------------------------------------------------------------


class LeasePayView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="Same key + same body replays the first response; another body: 422; in flight: 409",
            )
        ],
        request=s.PayInputSerializer,
        responses={200: s.LeaseSerializer, 422: PROBLEM, **ERRORS},
        tags=TAGS,
        operation_id="warehouses_leases_pay",
        description=(
            "The tenant pays the price of an approved (or active) lease into escrow through the payment institution "
            "`institution`. It must be compliant (not under review or suspended) with an enabled corridor for the "
            "lease currency and the warehouse country; otherwise 409 `payment_route_refused` with each reason in "
            "`errors.institution`. Paying a funded escrow again moves nothing and answers 200. The operator's "
            "check-in needs a funded escrow."
        ),
    )
    def post(self, request, lease_id: int):
        selectors.get_lease(user=request.user, lease_id=lease_id)  # 404 for anyone who cannot see it

        def handle():
            data = s.PayInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            escrow_services.pay_lease(
                actor=request.user, lease_id=lease_id, institution_id=data.validated_data["institution"]
            )
            lease = selectors.get_lease(user=request.user, lease_id=lease_id)
            return status.HTTP_200_OK, json.loads(json.dumps(s.LeaseSerializer(lease).data, default=str))

        code, body, replayed = idempotency.run_idempotently(
            owner=idempotency.owner_for(user=request.user),
            key=request.headers.get("Idempotency-Key", ""),
            fingerprint=idempotency.fingerprint_data(method=request.method, path=request.path, data=request.data),
            handler=handle,
            store_errors=False,
        )
        return Response(body, status=code, headers={"Idempotent-Replayed": "true"} if replayed else {})


def dispute_data(dispute) -> dict:
    lease_id = dispute.reference[6:] if dispute.reference.startswith("lease:") else ""
    return {
        "id": dispute.pk,
        "reference": dispute.reference,
        "lease": int(lease_id) if lease_id.isdecimal() else None,
        "opener": dispute.opener,
        "respondent": dispute.respondent,
        "reason": dispute.reason,
        "status": dispute.status,
        "resolution": dispute.resolution,
        "payee_amount": dispute.payee_amount,
        "payer_amount": dispute.payer_amount,
        "decision_reason": dispute.decision_reason,
        "created_at": dispute.created_at,
        "decided_at": dispute.decided_at,
    }


class LeaseDisputeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=s.DisputeInputSerializer,
        responses={201: s.DisputeSerializer, **ERRORS},
        tags=TAGS,
        operation_id="warehouses_leases_dispute",
        description=(
            "The tenant or the operator opens a dispute about a paid lease that is approved or active, or completed "
            "less than ENTREPOT['DISPUTE_WINDOW_DAYS'] (14) days ago. The escrow is frozen (no release, refund or "
            "cancellation) until platform staff resolve it. Not paid yet (409 `escrow_not_funded`), another open "
            "dispute, or a lease that cannot be disputed: 409."
        ),
    )
    def post(self, request, lease_id: int):
        selectors.get_lease(user=request.user, lease_id=lease_id)
        data = s.DisputeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dispute = escrow_services.open_lease_dispute(
            actor=request.user,
            lease_id=lease_id,
            reason=data.validated_data["reason"],
            subject_id=data.validated_data.get("subject"),
        )
        dispute = selectors.get_dispute(user=request.user, dispute_id=dispute.pk)
        return Response(s.DisputeSerializer(dispute_data(dispute)).data, status=status.HTTP_201_CREATED)


class DisputeListView(GenericAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = s.DisputeSerializer

    def get_queryset(self):  # for the schema only
        return Lease.objects.none()

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=["open", "resolved"])],
        responses={200: s.DisputeSerializer(many=True)},
        tags=TAGS,
        description="Platform staff see every dispute; parties see the disputes about their leases; others none.",
    )
    def get(self, request):
        qs = selectors.disputes_visible_to(user=request.user)
        if request.query_params.get("status") in ("open", "resolved"):
            qs = qs.filter(status=request.query_params["status"])
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.DisputeSerializer([dispute_data(d) for d in page], many=True).data)


class DisputeDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: s.DisputeSerializer, 404: PROBLEM}, tags=TAGS)
    def get(self, request, dispute_id: int):
        return Response(
            s.DisputeSerializer(dispute_data(selectors.get_dispute(user=request.user, dispute_id=dispute_id))).data
        )


class DisputeResolveView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=s.DisputeResolveInputSerializer,
        responses={200: s.DisputeSerializer, **ERRORS},
        tags=TAGS,
        operation_id="warehouses_disputes_resolve",
        description=(
            "Platform staff decide an open dispute: `payer` refunds what remains in escrow to the tenant (the "
            "operator gets a dispute_lost credit event), `payee` releases it to the operator less the platform fee "
            "(the tenant gets dispute_lost), `split` releases `payee_amount` and refunds the rest (no credit event). "
            "The escrow unfreezes. Others: 404 if they cannot see the dispute, else 403. Deciding again: 200, "
            "unchanged."
        ),
    )
    def post(self, request, dispute_id: int):
        selectors.get_dispute(user=request.user, dispute_id=dispute_id)
        data = s.DisputeResolveInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        escrow_services.resolve_lease_dispute(
            actor=request.user,
            dispute_id=dispute_id,
            resolution=v["resolution"],
            payee_amount=v.get("payee_amount"),
            reason=v["reason"],
        )
        dispute = selectors.get_dispute(user=request.user, dispute_id=dispute_id)
        return Response(s.DisputeSerializer(dispute_data(dispute)).data)
