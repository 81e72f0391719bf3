"""Blacklist, appeals, repair, standing and a subject's own record (regulators and
members). The public blacklist lives under /api/v1/registry/ (the registry API)."""

from django.urls import path

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
    path("credit/appeals/", views.AppealListView.as_view(), name="api-appeals"),
    path("credit/appeals/<int:appeal_id>/", views.AppealDetailView.as_view(), name="api-appeal"),
    path("credit/appeals/<int:appeal_id>/reply/", views.AppealReplyView.as_view(), name="api-appeal-reply"),
    path("credit/appeals/<int:appeal_id>/decide/", views.AppealDecideView.as_view(), name="api-appeal-decide"),
    path("credit/repairs/", views.RepairListView.as_view(), name="api-repairs"),
    path("credit/repairs/<int:repair_id>/", views.RepairDetailView.as_view(), name="api-repair"),
    path("credit/repairs/<int:repair_id>/reply/", views.RepairReplyView.as_view(), name="api-repair-reply"),
    path("credit/repairs/<int:repair_id>/decide/", views.RepairDecideView.as_view(), name="api-repair-decide"),
    path("credit/subjects/<int:subject_id>/standing/", views.StandingView.as_view(), name="api-subject-standing"),
    path("credit/subjects/<int:subject_id>/record/", views.RecordView.as_view(), name="api-subject-record"),
]
