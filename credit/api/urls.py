from django.urls import include, path

from credit.api import views

urlpatterns = [
    path("me/", views.MeView.as_view(), name="api-me"),
    path("auth/token/", views.TokenView.as_view(), name="api-token"),
    # Areas built separately.
    path("", include("credit.api.registry_urls")),
    path("", include("credit.api.events_urls")),
    path("", include("credit.api.blacklist_urls")),
]
