"""Paying a lease into escrow, and disputes."""

from decimal import Decimal

from rest_framework import serializers

from warehouses.api.serializers.transfers import PartySerializer


class PayInputSerializer(serializers.Serializer):
    institution = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, help_text="Subject id of the payment institution the tenant pays through"
    )


class DisputeInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=4000, help_text="What the dispute is about (both parties see it)")
    subject = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="The party you act for, if you act for both"
    )


class DisputeResolveInputSerializer(serializers.Serializer):
    resolution = serializers.ChoiceField(
        choices=[
            ("payer", "Tenant: refund what remains"),
            ("payee", "Operator: release what remains"),
            ("split", "Split"),
        ]
    )
    payee_amount = serializers.DecimalField(
        max_digits=20,
        decimal_places=2,
        min_value=Decimal("0"),
        required=False,
        help_text="For a split: released to the operator (less the platform fee); the rest is refunded",
    )
    reason = serializers.CharField(max_length=4000, help_text="The decision's reasons, shown to both parties")

    def validate(self, attrs):
        if attrs["resolution"] == "split" and attrs.get("payee_amount") is None:
            raise serializers.ValidationError({"payee_amount": ["Required for a split."]})
        return attrs


class DisputeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField(help_text="The escrow disputed, e.g. lease:12")
    lease = serializers.IntegerField(allow_null=True)
    opener = PartySerializer()
    respondent = PartySerializer()
    reason = serializers.CharField()
    status = serializers.CharField()
    resolution = serializers.CharField(allow_blank=True)
    payee_amount = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    payer_amount = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    decision_reason = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
