"""Escrow and disputes: paying a lease in, opening, listing and deciding disputes."""

import json

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core import idempotency
from core.api import validated
from warehouses import selectors
from warehouses.api import serializers as s
from warehouses.api.views.common import (
    ERRORS,
    IDEMPOTENCY_KEY,
    PROBLEM,
    TAGS,
    action_view,
)
from warehouses.models import Lease
from warehouses.services import escrow as escrow_services


class LeasePayView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[IDEMPOTENCY_KEY],
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
            institution_id = validated(s.PayInputSerializer, request.data)["institution"]
            escrow_services.pay_lease(actor=request.user, lease_id=lease_id, institution_id=institution_id)
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
        v = validated(s.DisputeInputSerializer, request.data)
        dispute = escrow_services.open_lease_dispute(
            actor=request.user, lease_id=lease_id, reason=v["reason"], subject_id=v.get("subject")
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


def _resolve(user, dispute_id, v) -> None:
    escrow_services.resolve_lease_dispute(
        actor=user,
        dispute_id=dispute_id,
        resolution=v["resolution"],
        payee_amount=v.get("payee_amount"),
        reason=v["reason"],
    )


DisputeResolveView = action_view(
    name="DisputeResolveView",
    operation_id="warehouses_disputes_resolve",
    doc=(
        "Platform staff decide an open dispute: `payer` refunds what remains in escrow to the tenant (the "
        "operator gets a dispute_lost credit event), `payee` releases it to the operator less the platform fee "
        "(the tenant gets dispute_lost), `split` releases `payee_amount` and refunds the rest (no credit event). "
        "The escrow unfreezes. Others: 404 if they cannot see the dispute, else 403. Deciding again: 200, "
        "unchanged."
    ),
    request=s.DisputeResolveInputSerializer,
    response=s.DisputeSerializer,
    read=lambda user, dispute_id: dispute_data(selectors.get_dispute(user=user, dispute_id=dispute_id)),
    call=_resolve,
)
