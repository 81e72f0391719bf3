from django.urls import path

from credit.api import events as views

urlpatterns = [
    path("credit/events/", views.RecordCreditEventView.as_view(), name="api-credit-events"),
    path(
        "credit/events/<int:event_id>/reverse/",
        views.ReverseCreditEventView.as_view(),
        name="api-credit-event-reverse",
    ),
    path("credit/recompute-runs/", views.RecomputeRunListView.as_view(), name="api-recompute-runs"),
    path("credit/recompute-runs/<int:run_id>/", views.RecomputeRunDetailView.as_view(), name="api-recompute-run"),
    path("registry/methodology/", views.MethodologyView.as_view(), name="api-methodology"),
]
