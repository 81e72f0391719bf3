"""The API call log."""

from rest_framework import serializers

from payments.models import (
    APICallRecord,
)


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
