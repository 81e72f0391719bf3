from django.urls import include, path

from payments.web import views

urlpatterns = [
    path("institution/keys/", views.api_keys, name="api-keys"),
    path("institution/keys/<str:prefix>/revoke/", views.revoke_api_key, name="revoke-api-key"),
    # Institutions' own pages and the regulator's payment-institution console.
    path("", include("payments.web.institution_urls")),
    path("", include("payments.web.regulator_urls")),
]
