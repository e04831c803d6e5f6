from __future__ import annotations

from django.urls import path

from demo import views

app_name = "demo"
urlpatterns = [
    path("", views.data_notes, name="data-notes"),
]
