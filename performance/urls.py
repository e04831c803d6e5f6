from __future__ import annotations

from django.urls import path

from performance import views

app_name = "performance"
urlpatterns = [
    path("", views.index, name="index"),
]
