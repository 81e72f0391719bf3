from django.urls import path

from payments.api import views

urlpatterns = [
    path("institution/", views.InstitutionView.as_view(), name="api-institution"),
    path("screenings/", views.ScreeningView.as_view(), name="api-screenings"),
    path("screenings/<int:decision_id>/", views.ScreeningDetailView.as_view(), name="api-screening"),
    path("payment-reports/", views.PaymentReportView.as_view(), name="api-payment-reports"),
    path("reserve-accounts/", views.ReserveAccountsView.as_view(), name="api-reserve-accounts"),
    path("reserve-reports/", views.ReserveReportsView.as_view(), name="api-reserve-reports"),
    path("watchlist/", views.WatchlistView.as_view(), name="api-watchlist"),
    path("watchlist/<int:subject_id>/", views.WatchlistEntryView.as_view(), name="api-watchlist-entry"),
    path("webhook-endpoints/", views.WebhookEndpointsView.as_view(), name="api-webhook-endpoints"),
    path("webhook-endpoints/<int:endpoint_id>/", views.WebhookEndpointView.as_view(), name="api-webhook-endpoint"),
    path("webhook-deliveries/", views.WebhookDeliveriesView.as_view(), name="api-webhook-deliveries"),
    path(
        "webhook-endpoints/<int:endpoint_id>/rotate-secret/",
        views.WebhookSecretRotateView.as_view(),
        name="api-webhook-endpoint-rotate",
    ),
    path("licences/", views.LicencesView.as_view(), name="api-licences"),
    path("licences/<int:licence_id>/withdraw/", views.LicenceWithdrawView.as_view(), name="api-licence-withdraw"),
    path("corridors/<int:corridor_id>/withdraw/", views.CorridorWithdrawView.as_view(), name="api-corridor-withdraw"),
    path(
        "reserve-accounts/<int:account_id>/close/",
        views.ReserveAccountCloseView.as_view(),
        name="api-reserve-account-close",
    ),
    path("api-calls/", views.APICallsView.as_view(), name="api-calls"),
]
