from django.urls import path

from payments.web import api_calls, manage
from payments.web import institution as views

urlpatterns = [
    path("institution/", views.institution_home, name="institution-home"),
    path("institution/<int:institution_id>/", views.institution_detail, name="institution-detail"),
    path("institution/<int:institution_id>/licences/", views.save_licence, name="institution-licence"),
    path("institution/<int:institution_id>/capital/", views.save_capital, name="institution-capital"),
    path("institution/<int:institution_id>/corridors/", views.add_corridor, name="institution-corridor"),
    path("institution/<int:institution_id>/reserve-accounts/", views.add_account, name="institution-account"),
    path("institution/<int:institution_id>/reserve-reports/", views.submit_report, name="institution-report"),
    path("institution/<int:institution_id>/threshold/", views.save_threshold, name="institution-threshold"),
    path("institution/<int:institution_id>/webhooks/", views.add_webhook, name="institution-webhook"),
    path(
        "institution/<int:institution_id>/webhooks/<int:endpoint_id>/remove/",
        views.remove_webhook,
        name="institution-webhook-remove",
    ),
    path("institution/<int:institution_id>/watchlist/", views.watch, name="institution-watch"),
    path(
        "institution/<int:institution_id>/watchlist/<int:subject_id>/remove/", views.unwatch, name="institution-unwatch"
    ),
    path("institution/<int:institution_id>/runs/<int:run_id>/", views.run_detail, name="institution-run"),
    path("institution/<int:institution_id>/deliveries/", views.deliveries, name="institution-deliveries"),
    path("institution/<int:institution_id>/screenings/", views.screenings, name="institution-screenings"),
    path("institution/<int:institution_id>/api-calls/", api_calls.institution_api_calls, name="institution-api-calls"),
    path(
        "institution/<int:institution_id>/licences/<int:licence_id>/withdraw/",
        manage.withdraw_licence,
        name="institution-licence-withdraw",
    ),
    path(
        "institution/<int:institution_id>/corridors/<int:corridor_id>/withdraw/",
        manage.withdraw_corridor,
        name="institution-corridor-withdraw",
    ),
    path(
        "institution/<int:institution_id>/reserve-accounts/<int:account_id>/close/",
        manage.close_account,
        name="institution-account-close",
    ),
    path(
        "institution/<int:institution_id>/webhooks/<int:endpoint_id>/edit/",
        manage.edit_webhook,
        name="institution-webhook-edit",
    ),
    path(
        "institution/<int:institution_id>/webhooks/<int:endpoint_id>/rotate-secret/",
        manage.rotate_webhook_secret,
        name="institution-webhook-rotate",
    ),
]
