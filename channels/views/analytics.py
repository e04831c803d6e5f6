"""Pages of the channels app (see channels/views/__init__.py): the channels landing page and analytics."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from crm_bank.org.decorators import staff_required


@staff_required()
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "channels/index.html")


urlpatterns: list = [
    path("", index, name="index"),
]
