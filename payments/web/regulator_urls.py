from django.urls import path

from core.routes import routes
from payments.web import api_calls
from payments.web import regulator as views

urlpatterns = [
    path("regulator/institutions/", views.institution_list, name="regulator-institutions"),
    *routes(
        "regulator/institutions/<int:institution_id>/",
        "regulator-institution",
        {
            "": views.institution_detail,
            "suspend": views.suspend,
            "reinstate": views.reinstate,
            "kyb": views.set_kyb,
            "check": views.run_check,
        },
    ),
    path("regulator/compliance-runs/<int:run_id>/", views.run_detail, name="regulator-compliance-run"),
    path("regulator/api-calls/", api_calls.regulator_api_calls, name="regulator-api-calls"),
]
