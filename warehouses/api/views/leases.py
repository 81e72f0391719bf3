"""Leases: the list, the request (Idempotency-Key, the hot path), the detail and the
operator's and tenant's actions."""

import json

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core import idempotency
from payments.selectors import escrow_summaries
from warehouses import selectors
from warehouses.api import serializers as s
from warehouses.api.fast import represent
from warehouses.api.views.common import (
    ERRORS,
    IDEMPOTENCY_KEY,
    PROBLEM,
    TAGS,
    action_view,
)
from warehouses.models import Lease
from warehouses.services import escrow as escrow_services
from warehouses.services import leases as lease_services


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
        parameters=[IDEMPOTENCY_KEY],
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
    """The operator's or tenant's action `service` on a lease, with a reason or without."""

    def call(user, lease_id, values):
        service(actor=user, lease_id=lease_id, **({"reason": values["reason"]} if with_reason else {}))

    return action_view(
        name=f"Lease{action.title().replace('-', '')}View",
        operation_id=f"warehouses_leases_{action.replace('-', '_')}",
        doc=doc,
        request=s.LeaseReasonInputSerializer if with_reason else None,
        response=s.LeaseSerializer,
        read=lambda user, lease_id: selectors.get_lease(user=user, lease_id=lease_id),
        call=call,
    )


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
