"""Blacklist, appeals, repair, standing and a subject's own record (regulators and
members). The public blacklist lives under /api/v1/registry/ (the registry API). Route
names follow core.routes where they can ("credit/appeals/<int:appeal_id>/reply/" is
api-appeal-reply)."""

from django.urls import path

from core.routes import routes
from credit.api import blacklist as views

urlpatterns = [
    path("credit/blacklist/entries/", views.EntryListCreateView.as_view(), name="api-blacklist-entries"),
    path("credit/blacklist/entries/<int:entry_id>/", views.EntryDetailView.as_view(), name="api-blacklist-entry"),
    path("credit/blacklist/entries/<int:entry_id>/lift/", views.EntryLiftView.as_view(), name="api-blacklist-lift"),
    path(
        "credit/blacklist/entries/<int:entry_id>/appeals/", views.FileAppealView.as_view(), name="api-blacklist-appeal"
    ),
    path(
        "credit/blacklist/entries/<int:entry_id>/repairs/",
        views.ApplyForRepairView.as_view(),
        name="api-blacklist-repair",
    ),
    *routes("credit/", "api", {"appeals": views.AppealListView, "repairs": views.RepairListView}),
    *routes(
        "credit/appeals/<int:appeal_id>/",
        "api-appeal",
        {"": views.AppealDetailView, "reply": views.AppealReplyView, "decide": views.AppealDecideView},
    ),
    *routes(
        "credit/repairs/<int:repair_id>/",
        "api-repair",
        {"": views.RepairDetailView, "reply": views.RepairReplyView, "decide": views.RepairDecideView},
    ),
    *routes(
        "credit/subjects/<int:subject_id>/", "api-subject", {"standing": views.StandingView, "record": views.RecordView}
    ),
]
