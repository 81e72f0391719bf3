"""Screening and payment reports."""

from rest_framework import serializers

from payments.models import (
    PaymentReport,
    ScreeningDecision,
)


class ScreeningItemSerializer(serializers.Serializer):
    registration_number = serializers.CharField(required=False, allow_blank=True, max_length=40)
    country = serializers.CharField(required=False, allow_blank=True, max_length=2)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    reference = serializers.CharField(required=False, allow_blank=True, max_length=100, help_text="Echoed back")

    def validate(self, attrs):
        if attrs.get("registration_number"):
            if not attrs.get("country"):
                raise serializers.ValidationError({"country": ["Required with a registration number."]})
        elif not attrs.get("name"):
            raise serializers.ValidationError(
                {"non_field_errors": ["Give registration_number and country, or a name."]}
            )
        return attrs


class ScreeningRequestSerializer(serializers.Serializer):
    """Either one counterparty (the fields at the top level) or `items`, a batch of up to 1,000."""

    registration_number = serializers.CharField(required=False, allow_blank=True, max_length=40)
    country = serializers.CharField(required=False, allow_blank=True, max_length=2)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    reference = serializers.CharField(required=False, allow_blank=True, max_length=100)
    items = ScreeningItemSerializer(many=True, required=False, allow_empty=False, help_text="At most 1,000")


class CandidateSerializer(serializers.Serializer):
    subject_id = serializers.IntegerField()
    legal_name = serializers.CharField()
    country = serializers.CharField()
    registration_number = serializers.CharField()
    grade = serializers.CharField()
    is_blacklisted = serializers.BooleanField()
    score = serializers.FloatField(help_text="Name similarity, 0 to 1")


class ScreeningReasonSerializer(serializers.Serializer):
    code = serializers.ChoiceField(
        choices=["good_standing", "blacklisted", "grade_below_threshold", "unknown_subject", "ambiguous_name"]
    )
    message = serializers.CharField()


class ScreeningDecisionSerializer(serializers.ModelSerializer):
    reference = serializers.SerializerMethodField()
    subject = serializers.DictField(source="subject_snapshot", help_text="The subject as it stood at the decision")
    candidates = CandidateSerializer(many=True)
    reasons = ScreeningReasonSerializer(many=True)

    class Meta:
        model = ScreeningDecision
        fields = [
            "id",
            "batch_id",
            "position",
            "decided_at",
            "reference",
            "inputs",
            "decision",
            "reasons",
            "subject",
            "candidates",
            "threshold_grade",
            "model_version",
            "data_version",
        ]

    def get_reference(self, obj) -> str:
        return obj.inputs.get("reference", "")


class ScreeningBatchSerializer(serializers.Serializer):
    batch_id = serializers.UUIDField()
    count = serializers.IntegerField()
    summary = serializers.DictField(child=serializers.IntegerField())
    results = ScreeningDecisionSerializer(many=True)


class PaymentReportInputSerializer(serializers.Serializer):
    subject_id = serializers.IntegerField(required=False)
    country = serializers.CharField(required=False, max_length=2)
    registration_number = serializers.CharField(required=False, max_length=40)
    outcome = serializers.ChoiceField(choices=PaymentReport.Outcome.choices)
    days_late = serializers.IntegerField(required=False, min_value=0, default=0)
    amount = serializers.DecimalField(required=False, max_digits=20, decimal_places=2, min_value=0)
    currency = serializers.CharField(required=False, max_length=3, allow_blank=True)
    payment_reference = serializers.CharField(max_length=200)
    occurred_at = serializers.DateTimeField()

    def validate(self, attrs):
        if not attrs.get("subject_id") and not (attrs.get("country") and attrs.get("registration_number")):
            raise serializers.ValidationError({"subject_id": ["Give subject_id, or country and registration_number."]})
        return attrs


class PaymentReportSerializer(serializers.ModelSerializer):
    credit_event_id = serializers.IntegerField(allow_null=True)

    class Meta:
        model = PaymentReport
        fields = [
            "id",
            "subject_id",
            "outcome",
            "days_late",
            "amount",
            "currency",
            "payment_reference",
            "occurred_at",
            "credit_event_id",
            "created_at",
        ]
