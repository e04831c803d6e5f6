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

# The models page (segmentation/model_views.py).
from segmentation import model_views  # noqa: E402

urlpatterns += [
    path("models/", model_views.model_overview, name="models"),
    path("models/runs/", model_views.model_training_run_start, name="models-run-start"),
    path("models/runs/<int:run_id>/progress/", model_views.model_training_run_progress, name="models-run-progress"),
    path("customers/<int:pk>/predictions/", model_views.customer_predictions_panel, name="customer-predictions"),
]

# The cross-sell page (segmentation/cross_sell_views.py).
from segmentation import cross_sell_views  # noqa: E402

urlpatterns += [
    path("cross-sell/", cross_sell_views.cross_sell_overview, name="cross-sell"),
    path("cross-sell/runs/", cross_sell_views.cross_sell_run_start, name="cross-sell-run-start"),
    path("cross-sell/runs/<int:run_id>/progress/", cross_sell_views.cross_sell_run_progress,
         name="cross-sell-run-progress"),
]
