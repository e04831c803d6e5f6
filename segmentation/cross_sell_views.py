"""The cross-sell page: the published run's product affinities per segment and how many customers
got each next-best product; Run now with its progress bar."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from crm_bank.org.decorators import staff_required
from crm_bank.org.models import StaffProfile
from crm_bank.runs.models import Run
from crm_bank.runs.pages import run_progress_bar, run_start_from_form
from crm_bank.runs.selectors import current_run
from segmentation import prediction_selectors
from segmentation.cross_sell import CROSS_SELL, MIN_LIFT, MIN_SCORE, MIN_SUPPORT, cross_sell_start

Role = StaffProfile.Role


@require_GET
@staff_required(Role.ANALYST)
def cross_sell_overview(request: HttpRequest) -> HttpResponse:
    run = current_run(kind=CROSS_SELL)
    context = {
        "run": run, "active": Run.objects.filter(kind=CROSS_SELL, status__in=Run.ACTIVE).only("id").first(),
        "min_support": MIN_SUPPORT, "min_score_percent": round(100 * MIN_SCORE), "min_lift": MIN_LIFT,
    }
    if run is not None:
        by_category = run.metrics.get("by_category") or {}
        context |= {
            "rules": prediction_selectors.cross_sell_rules(run=run),
            "by_category": sorted(((prediction_selectors.product_label(code), n) for code, n in by_category.items()),
                                  key=lambda item: -item[1]),
        }
    return render(request, "segmentation/cross_sell.html", context)


@require_POST
@staff_required(Role.ANALYST)
def cross_sell_run_start(request: HttpRequest) -> HttpResponse:
    """"Run now": queues a cross-sell run on the published segmentation (the start is audited)."""
    return run_start_from_form(
        request, forms.Form(request.POST), lambda _data: cross_sell_start(started_by=request.user),
        invalid="", queued=_("Cross-sell run #%(run)s queued."), back_to="segmentation:cross-sell",
    )


@require_GET
@staff_required(Role.ANALYST)
def cross_sell_run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    return run_progress_bar(request, run_id=run_id, kind=CROSS_SELL, prefix="cross-sell",
                             title=_("Cross-sell run #%(run)s"), results="segmentation:cross-sell")
