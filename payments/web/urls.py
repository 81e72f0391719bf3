from django.urls import path

from payments.web import views

urlpatterns = [
    path("institution/keys/", views.api_keys, name="api-keys"),
    path("institution/keys/<str:prefix>/revoke/", views.revoke_api_key, name="revoke-api-key"),
]
