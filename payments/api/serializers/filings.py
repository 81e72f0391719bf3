"""The institution, its corridors, licences and reserves, and ending a filing."""

from rest_framework import serializers

from payments.models import (
    Corridor,
    InstitutionProfile,
    Licence,
    ReserveAccount,
    ReserveOutflow,
    ReserveReport,
)


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
