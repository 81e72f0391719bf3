from django.urls import path

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
]
