"""Input and output serializers of the payment-provider API. They check shape only; the
services enforce the business rules."""

from payments.api.serializers.calls import APICallFilterSerializer, APICallRecordSerializer
from payments.api.serializers.filings import (
    BalanceInputSerializer,
    CloseAccountInputSerializer,
    CorridorSerializer,
    EndInputSerializer,
    InstitutionSerializer,
    LicenceSerializer,
    OutflowInputSerializer,
    ReserveAccountSerializer,
    ReserveReportInputSerializer,
    ReserveReportSerializer,
)
from payments.api.serializers.screening import (
    CandidateSerializer,
    PaymentReportInputSerializer,
    PaymentReportSerializer,
    ScreeningBatchSerializer,
    ScreeningDecisionSerializer,
    ScreeningItemSerializer,
    ScreeningReasonSerializer,
    ScreeningRequestSerializer,
)
from payments.api.serializers.webhooks import (
    WatchInputSerializer,
    WatchlistEntrySerializer,
    WebhookAttemptSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointInputSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointUpdateSerializer,
    WebhookEndpointWithSecretSerializer,
)

__all__ = [
    "APICallFilterSerializer",
    "APICallRecordSerializer",
    "BalanceInputSerializer",
    "CandidateSerializer",
    "CloseAccountInputSerializer",
    "CorridorSerializer",
    "EndInputSerializer",
    "InstitutionSerializer",
    "LicenceSerializer",
    "OutflowInputSerializer",
    "PaymentReportInputSerializer",
    "PaymentReportSerializer",
    "ReserveAccountSerializer",
    "ReserveReportInputSerializer",
    "ReserveReportSerializer",
    "ScreeningBatchSerializer",
    "ScreeningDecisionSerializer",
    "ScreeningItemSerializer",
    "ScreeningReasonSerializer",
    "ScreeningRequestSerializer",
    "WatchInputSerializer",
    "WatchlistEntrySerializer",
    "WebhookAttemptSerializer",
    "WebhookDeliverySerializer",
    "WebhookEndpointInputSerializer",
    "WebhookEndpointSerializer",
    "WebhookEndpointUpdateSerializer",
    "WebhookEndpointWithSecretSerializer",
]
