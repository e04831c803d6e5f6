from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from campaigns.selectors import campaign_list_with_results
from crm_bank.org.decorators import staff_required


@staff_required()
def index(request: HttpRequest) -> HttpResponse:
    page = Paginator(campaign_list_with_results(), 25).get_page(request.GET.get("page"))
    return render(request, "campaigns/index.html", {"page": page})
