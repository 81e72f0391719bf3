from django.urls import path

from payments.web import api_calls
from payments.web import regulator as views

urlpatterns = [
    path("regulator/institutions/", views.institution_list, name="regulator-institutions"),
    path("regulator/institutions/<int:institution_id>/", views.institution_detail, name="regulator-institution"),
    path("regulator/institutions/<int:institution_id>/suspend/", views.suspend, name="regulator-institution-suspend"),
    path(
        "regulator/institutions/<int:institution_id>/reinstate/",
        views.reinstate,
        name="regulator-institution-reinstate",
    ),
    path("regulator/institutions/<int:institution_id>/kyb/", views.set_kyb, name="regulator-institution-kyb"),
    path("regulator/institutions/<int:institution_id>/check/", views.run_check, name="regulator-institution-check"),
    path("regulator/compliance-runs/<int:run_id>/", views.run_detail, name="regulator-compliance-run"),
    path("regulator/api-calls/", api_calls.regulator_api_calls, name="regulator-api-calls"),
]
