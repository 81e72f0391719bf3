"""Lease transfers: the parties, the offer and acceptance inputs, the transfer."""

from rest_framework import serializers

from credit.models import Subject
from warehouses.api.serializers.leases import LeaseReasonSerializer
from warehouses.models import LeaseTransfer

MAX_ID = 2**63 - 1  # ids beyond a bigint are refused as bad input, not sent to the database


class PartySerializer(serializers.ModelSerializer):
    class Meta:
        model = Subject
        fields = ["id", "legal_name", "country", "registration_number", "grade"]


class TransferOfferInputSerializer(serializers.Serializer):
    to_subject = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="Subject id of the recipient")
    units = serializers.IntegerField(min_value=1, max_value=10_000_000, help_text="1 up to the lease's units")
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class TransferAcceptInputSerializer(serializers.Serializer):
    institution = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="Subject id of the payment institution the recipient pays through"
    )


class TransferReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class LeaseTransferSerializer(serializers.ModelSerializer):
    from_subject = PartySerializer(read_only=True)
    to_subject = PartySerializer(read_only=True)
    institution = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    operator = PartySerializer(source="lease.listing.warehouse.owner", read_only=True)
    reasons = LeaseReasonSerializer(many=True, read_only=True)
    requires_consent = serializers.BooleanField(source="lease.listing.transfer_requires_consent", read_only=True)

    class Meta:
        model = LeaseTransfer
        fields = [
            "id",
            "lease",
            "from_subject",
            "to_subject",
            "operator",
            "units",
            "status",
            "requires_consent",
            "expires_at",
            "institution",
            "note",
            "reasons",
            "effective_from",
            "amount",
            "recipient_lease",
            "created_at",
            "accepted_at",
            "decided_at",
        ]
