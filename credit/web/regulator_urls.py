from django.urls import path

from core.routes import routes
from credit.web import regulator as views

urlpatterns = [
    path("regulator/", views.dashboard, name="regulator-dashboard"),
    path("regulator/blacklist/", views.entry_list, name="regulator-entries"),
    path("regulator/blacklist/new/", views.entry_create, name="regulator-entry-new"),
    *routes(
        "regulator/blacklist/<int:entry_id>/",
        "regulator-entry",
        {"": views.entry_detail, "lift": views.entry_lift, "fine": views.entry_fine_paid},
    ),
    path("regulator/appeals/", views.appeal_queue, name="regulator-appeals"),
    path("regulator/appeals/<int:appeal_id>/", views.appeal_detail, name="regulator-appeal"),
    path("regulator/repairs/", views.repair_queue, name="regulator-repairs"),
    path("regulator/repairs/<int:repair_id>/", views.repair_detail, name="regulator-repair"),
    path("regulator/events/new/", views.event_create, name="regulator-event-new"),
    path("regulator/recompute/", views.recompute_runs, name="regulator-recompute"),
    path("regulator/recompute/start/", views.recompute_start, name="regulator-recompute-start"),
    path("regulator/recompute/<int:run_id>/progress/", views.recompute_progress, name="regulator-recompute-progress"),
    path("regulator/audit/", views.audit, name="regulator-audit"),
]
