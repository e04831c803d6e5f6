from __future__ import annotations

from django.urls import path

from segmentation import views

app_name = "segmentation"
urlpatterns = [
    path("", views.index, name="index"),
    path("value/", views.value_overview, name="value"),
    path("value/movers/", views.value_movers, name="value-movers"),
    path("value/runs/", views.value_run_start, name="value-run-start"),
    path("value/runs/<int:run_id>/progress/", views.value_run_progress, name="value-run-progress"),
    path("runs/", views.segmentation_run_start, name="run-start"),
    path("runs/<int:run_id>/progress/", views.segmentation_run_progress, name="run-progress"),
    path("rules/", views.rule_segments, name="rules"),
    path("rules/count/", views.rule_count, name="rule-count"),
]
