from __future__ import annotations

from django.urls import path

from channels import views

app_name = "channels"
urlpatterns = [
    path("", views.index, name="index"),
]
