"""The public registry pages (H4)."""

from django.urls import path

from credit.web import registry as views

urlpatterns = [
    path("registry/", views.search, name="registry-search"),
    path("registry/subjects/<int:pk>/", views.subject_profile, name="registry-subject"),
    path("registry/subjects/<int:pk>/report/", views.subject_report, name="registry-report"),
    path("registry/blacklist/", views.blacklist, name="registry-blacklist"),
    path("registry/methodology/", views.methodology, name="registry-methodology"),
]
