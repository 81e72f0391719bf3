"""Lease transfers: the offer, the list and detail, and the parties' actions."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import validated
from credit.selectors.accounts import subject_ids_acted_for
from warehouses import selectors
from warehouses.api import serializers as s
from warehouses.api.views.common import ERRORS, PROBLEM, TAGS, action_view
from warehouses.errors import LeaseNotFound
from warehouses.models import LeaseTransfer
from warehouses.services import transfers as transfer_services


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
        v = validated(s.TransferOfferInputSerializer, request.data)
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
    return action_view(
        name=f"Transfer{action.title()}View",
        operation_id=f"warehouses_transfers_{action}",
        doc=doc,
        request=request_serializer,
        response=s.LeaseTransferSerializer,
        read=lambda user, transfer_id: selectors.get_transfer(user=user, transfer_id=transfer_id),
        call=call,
    )


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
