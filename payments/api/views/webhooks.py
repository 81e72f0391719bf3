"""The watchlist, webhook endpoints (edit, rotate the secret) and the delivery log."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from config.api import Pagination
from core.errors import NotFound
from payments import services
from payments.api import serializers as s
from payments.api.views.base import ERRORS, InstitutionAPIView, institution_write, paginated
from payments.models import ProviderAPIKey, WatchlistEntry
from payments.selectors import deliveries_for, webhook_endpoints_for


class WatchlistView(InstitutionAPIView):
    required_scope = ProviderAPIKey.Scope.WEBHOOKS

    @extend_schema(responses={200: s.WatchlistEntrySerializer(many=True), **ERRORS}, tags=["webhooks"])
    def get(self, request):
        entries = WatchlistEntry.objects.filter(institution=request.institution).select_related("subject")
        return Response(s.WatchlistEntrySerializer(entries, many=True).data)

    @extend_schema(
        request=s.WatchInputSerializer, responses={201: s.WatchlistEntrySerializer, **ERRORS}, tags=["webhooks"]
    )
    def post(self, request):
        serializer = s.WatchInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = services.watch_subject(
            actor=request.auth,
            institution_id=request.institution.pk,
            subject_id=serializer.validated_data["subject_id"],
        )
        entry = WatchlistEntry.objects.select_related("subject").get(pk=entry.pk)
        return Response(s.WatchlistEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class WatchlistEntryView(InstitutionAPIView):
    required_scope = ProviderAPIKey.Scope.WEBHOOKS

    @extend_schema(responses={204: None, **ERRORS}, tags=["webhooks"])
    def delete(self, request, subject_id: int):
        if not services.unwatch_subject(
            actor=request.auth, institution_id=request.institution.pk, subject_id=subject_id
        ):
            raise NotFound("This subject is not on your watchlist.", code="not_watched")
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookEndpointsView(InstitutionAPIView):
    required_scope = ProviderAPIKey.Scope.WEBHOOKS

    @extend_schema(responses={200: s.WebhookEndpointSerializer(many=True), **ERRORS}, tags=["webhooks"])
    def get(self, request):
        return Response(
            s.WebhookEndpointSerializer(webhook_endpoints_for(institution_id=request.institution.pk), many=True).data
        )

    @extend_schema(
        request=s.WebhookEndpointInputSerializer,
        responses={201: s.WebhookEndpointWithSecretSerializer, **ERRORS},
        tags=["webhooks"],
    )
    def post(self, request):
        return institution_write(
            request,
            service=services.create_webhook_endpoint,
            input_serializer=s.WebhookEndpointInputSerializer,
            output=s.WebhookEndpointWithSecretSerializer,
            created=True,
        )


class WebhookEndpointView(InstitutionAPIView):
    required_scope = ProviderAPIKey.Scope.WEBHOOKS

    @extend_schema(
        request=s.WebhookEndpointUpdateSerializer,
        responses={200: s.WebhookEndpointSerializer, **ERRORS},
        tags=["webhooks"],
        summary="Change an endpoint's URL, event types, description or enabled flag",
    )
    def patch(self, request, endpoint_id: int):
        return institution_write(
            request,
            service=services.update_webhook_endpoint,
            input_serializer=s.WebhookEndpointUpdateSerializer,
            output=s.WebhookEndpointSerializer,
            endpoint_id=endpoint_id,
        )

    @extend_schema(responses={204: None, **ERRORS}, tags=["webhooks"])
    def delete(self, request, endpoint_id: int):
        services.delete_webhook_endpoint(
            actor=request.auth, institution_id=request.institution.pk, endpoint_id=endpoint_id
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveriesView(InstitutionAPIView):
    """The delivery log: every delivery with each attempt's status code, latency and error."""

    required_scope = ProviderAPIKey.Scope.WEBHOOKS
    pagination_class = Pagination  # paginated by `paginated`: the schema documents the pages too

    @extend_schema(
        parameters=[OpenApiParameter("status", OpenApiTypes.STR, description="pending, succeeded, failed, disabled")],
        responses={200: s.WebhookDeliverySerializer(many=True), **ERRORS},
        tags=["webhooks"],
    )
    def get(self, request):
        qs = deliveries_for(institution_id=request.institution.pk)
        if request.query_params.get("status"):
            qs = qs.filter(status=request.query_params["status"])
        return paginated(request, self, qs, s.WebhookDeliverySerializer)


class WebhookSecretRotateView(InstitutionAPIView):
    required_scope = ProviderAPIKey.Scope.WEBHOOKS

    @extend_schema(
        request=None,
        responses={200: s.WebhookEndpointWithSecretSerializer, **ERRORS},
        tags=["webhooks"],
        summary="Rotate the signing secret",
        description=(
            "Returns the endpoint with its new `secret`. Until `previous_secret_expires_at` "
            "(WEBHOOK_SECRET_ROTATION_GRACE_HOURS, default 24 h) deliveries carry two signatures in "
            "`webhook-signature`, one per secret."
        ),
    )
    def post(self, request, endpoint_id: int):
        endpoint, _secret = services.rotate_webhook_secret(
            actor=request.auth, institution_id=request.institution.pk, endpoint_id=endpoint_id
        )
        return Response(s.WebhookEndpointWithSecretSerializer(endpoint).data)
