from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from campaigns.selectors import campaign_list_with_results, customers_by_source
from crm_bank.org.decorators import staff_required


@staff_required()
def index(request: HttpRequest) -> HttpResponse:
    page = Paginator(campaign_list_with_results(), 25).get_page(request.GET.get("page"))
    # Only an empty list needs to say what is loaded instead (a count over every source record).
    sources = [] if page.object_list else customers_by_source()
    return render(request, "campaigns/index.html", {"page": page, "sources": sources})
