from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm_bank.org.decorators import staff_required
from crm_bank.org.models import StaffProfile
from crm_bank.org.selectors import staff_profile_for_user
from crm_bank.runs.pages import run_progress_bar, run_start_from_form
from customers.access import money_masked_in_lists
from segmentation import selectors
from segmentation.columns import RULE_FEATURES
from segmentation.forms import MoversForm, RuleCountForm, RuleSegmentForm, SegmentationRunForm, ValueRunForm
from segmentation.rules import parse_rule
from segmentation.segments import (
    SEGMENTATION,
    rule_segment_count,
    rule_segment_create,
    segmentation_start,
)
from segmentation.services import VALUE_SCORING, value_scoring_start

Role = StaffProfile.Role


@require_GET
@staff_required(Role.ANALYST)
def index(request: HttpRequest) -> HttpResponse:
    """The segmentation report: the published run's learned segments, their transitions, Run now."""
    run = selectors.segmentation_run_current()
    context = {
        "run": run, "active": selectors.segmentation_run_active(), "form": SegmentationRunForm(),
        "value_run": selectors.value_run_current(),
    }
    if run is not None:
        segments = selectors.segment_report(run=run)
        context |= {
            "segments": segments,
            "transitions": selectors.segment_transitions(run=run),
            "chart": {
                "labels": [row.label for row in segments],
                "sizes": [round(100 * (row.share or 0), 2) for row in segments],
                "value_shares": [round(100 * (row.value_share or 0), 2) for row in segments],
            },
        }
    return render(request, "segmentation/index.html", context)


@require_GET
@staff_required(Role.ANALYST)
def value_overview(request: HttpRequest) -> HttpResponse:
    run = selectors.value_run_current()
    context = {"run": run, "active": selectors.value_run_active(), "form": ValueRunForm()}
    if run is not None:
        context |= {
            "lorenz": selectors.value_lorenz_points(run=run),
            "branches": selectors.value_tiers_by_branch(run=run),
            "rms": selectors.value_tier_mix_by_rm(run=run),
            "movers_counts": selectors.value_movers_counts(run=run),
            "movers": _movers_shown_to(request, selectors.value_movers(run=run, from_tier="A", to_tier="B")),
            "top20_percent": 100 * float(run.metrics.get("top20_share", 0)),
            "formula": selectors.value_formula(run=run),
        }
    return render(request, "segmentation/value_overview.html", context)


@require_GET
@staff_required(Role.ANALYST)
def value_movers(request: HttpRequest) -> HttpResponse:
    """The movers table (htmx partial): one page of customers who moved between two tiers."""
    run = selectors.value_run_current()
    form = MoversForm(request.GET)
    if run is None or not form.is_valid():
        raise Http404
    page = selectors.value_movers(
        run=run, from_tier=form.cleaned_data["from_tier"], to_tier=form.cleaned_data["to_tier"],
        page=form.cleaned_data["page"] or 1,
    )
    return render(request, "segmentation/_value_movers.html", {"movers": _movers_shown_to(request, page)})


def _movers_shown_to(request: HttpRequest, page: selectors.MoversPage) -> selectors.MoversPage:
    """Marks each mover whose value (the customer's money: MASKING_RULES' customer_value) the viewer
    sees masked: an analyst without full access to the customer sees the tiers and the rank."""
    viewer = staff_profile_for_user(request.user)
    for row in page.rows:
        row.value_masked = money_masked_in_lists(profile=viewer, customer=row.customer)
    return page


@require_POST
@staff_required(Role.ANALYST)
def value_run_start(request: HttpRequest) -> HttpResponse:
    """"Run now": queues a value-scoring run (the run's start writes the audit record)."""
    return run_start_from_form(
        request, ValueRunForm(request.POST),
        lambda data: value_scoring_start(as_of=data["as_of"], started_by=request.user),
        invalid=_("Enter the as-of date as a date, or leave it empty."),
        queued=_("Value scoring run #%(run)s queued."), back_to="segmentation:value",
    )


@require_GET
@staff_required(Role.ANALYST)
def value_run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The progress bar (htmx partial, polled every 2 s until the run is over)."""
    return run_progress_bar(request, run_id=run_id, kind=VALUE_SCORING, prefix="value",
                             title=_("Value scoring run #%(run)s"), results="segmentation:value")


@require_POST
@staff_required(Role.ANALYST)
def segmentation_run_start(request: HttpRequest) -> HttpResponse:
    """"Run now": queues a segmentation run (the run's start writes the audit record)."""
    return run_start_from_form(
        request, SegmentationRunForm(request.POST),
        lambda data: segmentation_start(as_of=data["as_of"], k=data["k"], seed=data["seed"], started_by=request.user),
        invalid=_("Enter the as-of date as a date, k from 2 to 30 and the seed as a whole number."),
        queued=_("Segmentation run #%(run)s queued."), back_to="segmentation:index",
    )


@require_GET
@staff_required(Role.ANALYST)
def segmentation_run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The progress bar (htmx partial, polled every 2 s until the run is over)."""
    return run_progress_bar(request, run_id=run_id, kind=SEGMENTATION, prefix="segmentation",
                             title=_("Segmentation run #%(run)s"), results="segmentation:index")


@require_http_methods(["GET", "POST"])
@staff_required(Role.ANALYST)
def rule_segments(request: HttpRequest) -> HttpResponse:
    """The rule segments with their last-run sizes, and the form that adds one."""
    form = RuleSegmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        segment = rule_segment_create(**form.cleaned_data, created_by=request.user)
        messages.success(
            request, _("Rule segment “%(name)s” saved; the next segmentation run computes its members.")
            % {"name": segment.name},
        )
        return redirect("segmentation:rules")
    run = selectors.segmentation_run_current()
    context = {
        "form": form, "run": run, "rows": selectors.rule_segments_with_sizes(run=run),
        "features": sorted(RULE_FEATURES),
    }
    return render(request, "segmentation/rulesegment_list.html", context)


@require_POST
@staff_required(Role.ANALYST)
def rule_count(request: HttpRequest) -> HttpResponse:
    """The live count (htmx partial): customers the rule holds for in the published segmentation
    run's features (a value-scoring run keeps only the value formula's inputs)."""
    form = RuleCountForm(request.POST)
    run = selectors.segmentation_run_current()
    context = {"form": form, "run": run, "count": None}
    if form.is_valid() and run is not None:
        context["count"] = rule_segment_count(rule=parse_rule(form.cleaned_data["rule"]), run=run)
    return render(request, "segmentation/_rule_count.html", context)
