from django.urls import path

from core.routes import routes
from payments.api import views

# Route names follow core.routes ("licences/<int:licence_id>/withdraw/" is api-licence-withdraw)
# where they can; the others are declared with path().
urlpatterns = [
    *routes(
        "",
        "api",
        {
            "institution": views.InstitutionView,
            "screenings": views.ScreeningView,
            "payment-reports": views.PaymentReportView,
            "reserve-accounts": views.ReserveAccountsView,
            "reserve-reports": views.ReserveReportsView,
            "watchlist": views.WatchlistView,
            "webhook-endpoints": views.WebhookEndpointsView,
            "webhook-deliveries": views.WebhookDeliveriesView,
            "licences": views.LicencesView,
        },
    ),
    path("screenings/<int:decision_id>/", views.ScreeningDetailView.as_view(), name="api-screening"),
    path("watchlist/<int:subject_id>/", views.WatchlistEntryView.as_view(), name="api-watchlist-entry"),
    path("webhook-endpoints/<int:endpoint_id>/", views.WebhookEndpointView.as_view(), name="api-webhook-endpoint"),
    path(
        "webhook-endpoints/<int:endpoint_id>/rotate-secret/",
        views.WebhookSecretRotateView.as_view(),
        name="api-webhook-endpoint-rotate",
    ),
    *routes("licences/<int:licence_id>/", "api-licence", {"withdraw": views.LicenceWithdrawView}),
    *routes("corridors/<int:corridor_id>/", "api-corridor", {"withdraw": views.CorridorWithdrawView}),
    *routes("reserve-accounts/<int:account_id>/", "api-reserve-account", {"close": views.ReserveAccountCloseView}),
    path("api-calls/", views.APICallsView.as_view(), name="api-calls"),
]
