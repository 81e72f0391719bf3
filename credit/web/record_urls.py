from django.urls import path

from credit.web import record as views

urlpatterns = [
    path("account/record/", views.record_index, name="record-index"),
    path("account/record/<int:subject_id>/", views.record, name="record"),
    path("account/record/entries/<int:entry_id>/appeal/", views.file_appeal, name="record-appeal"),
    path("account/record/entries/<int:entry_id>/repair/", views.apply_for_repair, name="record-repair"),
]
