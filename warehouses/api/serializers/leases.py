"""Leases: the request (the hot path), the lease with its escrow block, the reason input."""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from payments.selectors import escrow_summaries
from warehouses.api.fast import FreshFieldsMixin, represent
from warehouses.api.serializers.listings import OperatorSerializer, check_range
from warehouses.models import Lease
from warehouses.services.escrow import amount_due
from warehouses.services.payment_deadline import payment_due_at


class LeaseRequestSerializer(FreshFieldsMixin, serializers.Serializer):
    listing = serializers.IntegerField()
    tenant = serializers.IntegerField(required=False, help_text="Subject id; optional if you act for one subject")
    units = serializers.IntegerField(min_value=1, max_value=10_000_000)
    start = serializers.DateField(help_text="First day (included)")
    end = serializers.DateField(help_text="Day after the last day (not included)")
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")

    def validate(self, attrs):
        check_range(attrs)
        return attrs


class LeaseReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class EscrowBlockSerializer(serializers.Serializer):
    """The lease's escrow: `status` is unpaid, funded, partially released, released,
    refunded or frozen (an open dispute). Amounts in `currency`; `released` is before the
    platform fee; `due` is what paying charges (0 once funded): the price of every live lease
    sharing the escrow (a transferor's split leases share the original's)."""

    reference = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["unpaid", "funded", "partially released", "released", "refunded", "frozen"]
    )
    currency = serializers.CharField()
    held = serializers.DecimalField(max_digits=20, decimal_places=2)
    released = serializers.DecimalField(max_digits=20, decimal_places=2)
    refunded = serializers.DecimalField(max_digits=20, decimal_places=2)
    balance = serializers.DecimalField(max_digits=20, decimal_places=2)
    due = serializers.DecimalField(max_digits=20, decimal_places=2)
    open_dispute = serializers.BooleanField()


# Leases that can never have been paid into escrow (only approved leases take payment).
NEVER_PAID = ("held", "rejected", "expired")
UNPAID = {
    "status": "unpaid",
    "funded": False,
    "currency": "",
    "open_dispute": False,
    **dict.fromkeys(("held", "released", "refunded", "balance"), Decimal("0.00")),
}


def escrow_block(lease, summary: dict, prices: dict | None = None) -> dict:
    due = Decimal("0.00")
    if not summary["funded"] and lease.status in ("approved", "active"):
        # What paying charges: the price of every live lease sharing the escrow. Only a
        # transferor's split leases share one: a list passes their `prices` (one query for
        # the page), a single lease reads its own (one query for it, none otherwise).
        if lease.escrow_reference:
            due = amount_due(lease=lease, prices=prices)
        else:
            due = lease.total_price
    keys = ("status", "held", "released", "refunded", "balance", "open_dispute")
    return {"reference": lease.escrow_ref, "currency": summary["currency"] or lease.currency, "due": due} | {
        k: summary[k] for k in keys
    }


class LeaseSerializer(serializers.ModelSerializer):
    tenant = OperatorSerializer(read_only=True)
    listing_title = serializers.CharField(source="listing.title", read_only=True)
    warehouse = serializers.CharField(source="listing.warehouse.name", read_only=True)
    operator = OperatorSerializer(source="listing.warehouse.owner", read_only=True)
    decision_reasons = LeaseReasonSerializer(many=True, read_only=True)
    escrow_reference = serializers.CharField(
        source="escrow_ref", read_only=True, help_text="The escrow guarding this lease (see payments)"
    )
    escrow = serializers.SerializerMethodField()
    payment_due_at = serializers.SerializerMethodField(
        help_text="An approved lease not yet paid into escrow expires at this time (null otherwise)"
    )

    class Meta:
        model = Lease
        fields = [
            "id",
            "listing",
            "listing_title",
            "warehouse",
            "operator",
            "tenant",
            "units",
            "start",
            "end",
            "status",
            "booking_mode",
            "unit_price",
            "total_price",
            "currency",
            "hold_expires_at",
            "payment_due_at",
            "decision_reasons",
            "cancellation_fee",
            "note",
            "requested_at",
            "decided_at",
            "checked_in_at",
            "completed_at",
            "cancelled_at",
            "defaulted_party",
            "defaulted_at",
            "parent",
            "escrow_reference",
            "escrow",
        ]

    @extend_schema_field(EscrowBlockSerializer)
    def get_escrow(self, lease) -> dict:
        # Lists pass every summary of the page in the context, and the live prices of its
        # split leases' escrows (one batch each, no N+1).
        summaries = self.context.get("escrow_summaries")
        if lease.status in NEVER_PAID and (summaries is None or lease.escrow_ref not in summaries):
            return represent(EscrowBlockSerializer, escrow_block(lease, UNPAID))  # no queries (lease requests)
        if summaries is None or lease.escrow_ref not in summaries:
            summaries = escrow_summaries(references=[lease.escrow_ref])
        block = escrow_block(lease, summaries[lease.escrow_ref], self.context.get("live_prices"))
        return represent(EscrowBlockSerializer, block)

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_payment_due_at(self, lease) -> str | None:
        due = payment_due_at(lease=lease)
        if due is None:
            return None  # not approved: no queries
        summaries = self.context.get("escrow_summaries")
        if summaries is None or lease.escrow_ref not in summaries:
            fetched = escrow_summaries(references=[lease.escrow_ref])
            # Kept for `escrow`, which reads the same summary.
            self.context.setdefault("escrow_summaries", {}).update(fetched)
            summaries = fetched
        return None if summaries[lease.escrow_ref]["funded"] else serializers.DateTimeField().to_representation(due)


class LeaseReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
