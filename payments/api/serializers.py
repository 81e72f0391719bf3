"""Input and output serializers of the payment-provider API. They check shape only; the
services enforce the business rules."""

from rest_framework import serializers

from payments.models import (
    APICallRecord,
    Corridor,
    InstitutionProfile,
    Licence,
    PaymentReport,
    ReserveAccount,
    ReserveOutflow,
    ReserveReport,
    ScreeningDecision,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

# --- Screening -------------------------------------------------------------------------------


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


# --- Payment reports -------------------------------------------------------------------------


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


# --- Institution, reserves -------------------------------------------------------------------


class CorridorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Corridor
        fields = ["id", "currency", "country", "enabled", "disabled_reason", "withdrawn_at", "withdrawn_reason"]


class InstitutionSerializer(serializers.ModelSerializer):
    institution_id = serializers.IntegerField(source="pk")
    legal_name = serializers.CharField(source="subject.legal_name")
    latest_run_id = serializers.IntegerField(allow_null=True)
    corridors = CorridorSerializer(many=True)

    class Meta:
        model = InstitutionProfile
        fields = [
            "institution_id",
            "legal_name",
            "status",
            "status_reason",
            "status_changed_at",
            "kyb_status",
            "screening_minimum_grade",
            "latest_run_id",
            "corridors",
        ]


class ReserveAccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReserveAccount
        fields = [
            "id",
            "bank",
            "bank_kind",
            "account_reference",
            "currency",
            "closed_on",
            "closed_reason",
            "created_at",
        ]
        read_only_fields = ["id", "closed_on", "closed_reason", "created_at"]


class BalanceInputSerializer(serializers.Serializer):
    account_id = serializers.IntegerField()
    balance = serializers.DecimalField(max_digits=20, decimal_places=2, min_value=0)


class OutflowInputSerializer(serializers.Serializer):
    destination_type = serializers.ChoiceField(choices=ReserveOutflow.Destination.choices)
    amount = serializers.DecimalField(max_digits=20, decimal_places=2, min_value=0)


class ReserveReportInputSerializer(serializers.Serializer):
    report_date = serializers.DateField()
    currency = serializers.CharField(max_length=3)
    customer_funds_owed = serializers.DecimalField(max_digits=20, decimal_places=2, min_value=0)
    balances = BalanceInputSerializer(many=True, allow_empty=False)
    outflows = OutflowInputSerializer(many=True, required=False)


class ReserveReportSerializer(serializers.ModelSerializer):
    balances = serializers.SerializerMethodField()
    outflows = serializers.SerializerMethodField()

    class Meta:
        model = ReserveReport
        fields = [
            "id",
            "report_date",
            "currency",
            "customer_funds_owed",
            "balances",
            "outflows",
            "source",
            "created_at",
        ]

    def get_balances(self, obj) -> list[dict]:
        return [
            {"account_id": b.account_id, "account_reference": b.account.account_reference, "balance": str(b.balance)}
            for b in obj.balances.all()
        ]

    def get_outflows(self, obj) -> list[dict]:
        return [{"destination_type": o.destination_type, "amount": str(o.amount)} for o in obj.outflows.all()]


# --- Watchlist and webhooks ------------------------------------------------------------------


class WatchInputSerializer(serializers.Serializer):
    subject_id = serializers.IntegerField()


class WatchlistEntrySerializer(serializers.Serializer):
    subject_id = serializers.IntegerField()
    legal_name = serializers.CharField(source="subject.legal_name")
    grade = serializers.CharField(source="subject.grade")
    is_blacklisted = serializers.BooleanField(source="subject.is_blacklisted")
    added_at = serializers.DateTimeField()


class WebhookEndpointInputSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEndpoint.EventType.choices), allow_empty=False
    )
    description = serializers.CharField(required=False, allow_blank=True, max_length=200)


class WebhookEndpointSerializer(serializers.ModelSerializer):
    """An endpoint without its secret: the secret is shown once, when the endpoint is
    created or its secret rotated (WebhookEndpointWithSecretSerializer)."""

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "event_types",
            "description",
            "enabled",
            "disabled_reason",
            "secret_rotated_at",
            "previous_secret_expires_at",
            "created_at",
        ]


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["at", "status_code", "latency_ms", "error", "succeeded"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    attempt_log = WebhookAttemptSerializer(many=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint_id",
            "event_id",
            "event_type",
            "payload",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "created_at",
            "delivered_at",
            "attempt_log",
        ]


# --- Ending filings, editing endpoints, the call log ------------------------------------------


class EndInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class CloseAccountInputSerializer(EndInputSerializer):
    closed_on = serializers.DateField(required=False, allow_null=True, default=None, help_text="Default: today")


class LicenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Licence
        fields = [
            "id",
            "number",
            "issuing_authority",
            "business_types",
            "currencies",
            "countries",
            "valid_from",
            "valid_to",
            "renewal_filed_on",
            "withdrawn_at",
            "withdrawn_reason",
        ]


class WebhookEndpointUpdateSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500, required=False)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEndpoint.EventType.choices), allow_empty=False, required=False
    )
    description = serializers.CharField(required=False, allow_blank=True, max_length=200)
    enabled = serializers.BooleanField(required=False)


class APICallRecordSerializer(serializers.ModelSerializer):
    api_key_name = serializers.CharField(read_only=True, allow_null=True, help_text="The key's name")

    class Meta:
        model = APICallRecord
        fields = [
            "id",
            "at",
            "api_key_prefix",
            "api_key_name",
            "method",
            "path",
            "status_code",
            "decision",
            "duration_ms",
        ]


class APICallFilterSerializer(serializers.Serializer):
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    endpoint = serializers.CharField(required=False, max_length=100)
    status = serializers.RegexField(r"^([1-5][0-9]{2}|[1-5]xx)$", required=False, max_length=3)
    decision = serializers.CharField(required=False, max_length=100)

    def validate(self, attrs):
        if attrs.get("date_from") and attrs.get("date_to") and attrs["date_from"] > attrs["date_to"]:
            raise serializers.ValidationError({"date_to": ["Give the from day or a later one."]})
        return attrs
