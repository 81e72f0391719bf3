"""The public credit registry API (H4). GET /api/v1/registry/methodology/ is the scoring
area's (credit.api.events_urls)."""

from django.urls import path

from credit.api import registry as views

urlpatterns = [
    path("registry/subjects/", views.SubjectSearchView.as_view(), name="api-registry-subjects"),
    path("registry/subjects/<int:pk>/", views.SubjectProfileView.as_view(), name="api-registry-subject"),
    path("registry/blacklist/", views.PublicBlacklistView.as_view(), name="api-registry-blacklist"),
]
