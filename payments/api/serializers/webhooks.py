"""The watchlist and webhook endpoints and deliveries."""

from rest_framework import serializers

from payments.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)


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


class WebhookEndpointUpdateSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500, required=False)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEndpoint.EventType.choices), allow_empty=False, required=False
    )
    description = serializers.CharField(required=False, allow_blank=True, max_length=200)
    enabled = serializers.BooleanField(required=False)
