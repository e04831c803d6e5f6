from __future__ import annotations

from django.urls import path

from segmentation import views

app_name = "segmentation"
urlpatterns = [
    path("", views.index, name="index"),
]
