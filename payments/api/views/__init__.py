"""The payment-provider API. Every endpoint takes `Authorization: Api-Key <prefix>.<secret>`
of a payment institution, needs the scope it names, and is recorded (APICallRecord).

Screening and payment reports need a *compliant* institution: a suspended one gets 403
`institution_suspended`, one under review 403 `institution_under_review`, each naming the
reason. The institution's own data (status, reserves, watchlist, webhooks, past decisions)
stays reachable whatever its status, so it can put things right.
"""

from payments.api.views.calls import APICallsView
from payments.api.views.filings import (
    CorridorWithdrawView,
    LicencesView,
    LicenceWithdrawView,
    ReserveAccountCloseView,
    ReserveAccountsView,
    ReserveReportsView,
)
from payments.api.views.reports import PaymentReportView
from payments.api.views.screening import InstitutionView, ScreeningDetailView, ScreeningView
from payments.api.views.webhooks import (
    WatchlistEntryView,
    WatchlistView,
    WebhookDeliveriesView,
    WebhookEndpointsView,
    WebhookEndpointView,
    WebhookSecretRotateView,
)

__all__ = [
    "APICallsView",
    "CorridorWithdrawView",
    "InstitutionView",
    "LicenceWithdrawView",
    "LicencesView",
    "PaymentReportView",
    "ReserveAccountCloseView",
    "ReserveAccountsView",
    "ReserveReportsView",
    "ScreeningDetailView",
    "ScreeningView",
    "WatchlistEntryView",
    "WatchlistView",
    "WebhookDeliveriesView",
    "WebhookEndpointView",
    "WebhookEndpointsView",
    "WebhookSecretRotateView",
]
