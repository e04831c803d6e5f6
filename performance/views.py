from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from crm_bank.org.decorators import staff_required


@staff_required()
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "performance/index.html")
