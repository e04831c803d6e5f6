"""Scorecards and the league table of the KPI runs; Run KPIs with its progress bar.

Who sees what: an RM their own scorecard; a supervisor their branch's and its RMs'; analysts and
administrators every one (head office).
"""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record, request_ip
from crm_bank.exports import csv_response, xlsx_response
from crm_bank.org.decorators import staff_required
from crm_bank.org.models import Branch, StaffProfile
from crm_bank.org.selectors import staff_profile_for_user
from crm_bank.runs.models import Run
from crm_bank.runs.pages import run_progress_bar, run_start_from_form
from crm_bank.ui.paginators import id_from, positive_int
from customers.access import money_masked_in_lists
from performance import selectors
from performance.forms import TargetFileForm, TargetForm
from performance.measures import MEASURES, PeriodInvalid, period_days, period_of
from performance.models import Kpi, KpiTarget, Scope
from performance.runs import KPI_RUN, kpi_run_start
from performance.services import target_approve, target_may_approve, target_may_set, target_set
from performance.target_import import MAX_BYTES, TargetFileInvalid, targets_import

Role = StaffProfile.Role
HEAD_OFFICE = (Role.ADMIN, Role.ANALYST)


class KpiRunForm(forms.Form):
    period = forms.RegexField(label=gettext_lazy("Period"), regex=r"^[0-9]{4}-(0[1-9]|1[0-2]|Q[1-4])\Z",
                              help_text=gettext_lazy("A month (2026-11) or a quarter (2026-Q4)."))


def _run_for(request: HttpRequest) -> tuple[Run | None, list[str]]:
    """The KPI run of the period asked for (?period=), else of the newest period; and the periods."""
    periods = selectors.kpi_periods()
    period = request.GET.get("period") or (periods[0] if periods else "")
    if period and period not in periods:
        raise Http404(_("No KPI run has been published for %(period)s.") % {"period": period})
    return (selectors.kpi_runs_by_period([period]).get(period) if period else None), periods


@require_GET
@staff_required()
def index(request: HttpRequest) -> HttpResponse:
    """Head office and supervisors: the league table of branches; an RM goes to their scorecard."""
    profile = staff_profile_for_user(request.user)
    if profile.role == Role.RM:
        return redirect("performance:rm", username=request.user.get_username())
    run, periods = _run_for(request)
    return render(request, "performance/index.html", {
        "run": run, "periods": periods, "league": selectors.branch_league(run=run) if run else [],
        "may_run": profile.role in HEAD_OFFICE, "active": selectors.kpi_run_active(),
        "form": KpiRunForm(initial={"period": _month_just_closed()}),
        "own_branch": profile.branch_id, "supervises": profile.role in (Role.SUPERVISOR, Role.ADMIN),
    })


def _month_just_closed() -> str:
    return period_of(timezone.localdate().replace(day=1) - datetime.timedelta(days=1))


def _may_see_branch(profile: StaffProfile, branch_id: int | None) -> bool:
    return profile.role in HEAD_OFFICE or (profile.role == Role.SUPERVISOR and profile.branch_id == branch_id)


@require_GET
@staff_required()
def branch_scorecard(request: HttpRequest, code: str) -> HttpResponse:
    branch = get_object_or_404(Branch, code=code)
    if not _may_see_branch(staff_profile_for_user(request.user), branch.pk):
        raise PermissionDenied
    run, periods = _run_for(request)
    context = {"branch": branch, "run": run, "periods": periods}
    if run is not None:
        context |= {"card": selectors.scorecard(run=run, scope=Scope.BRANCH, scope_id=branch.pk, key=branch.code),
                    "rms": selectors.branch_rm_scores(run=run, branch_id=branch.pk)}
    return render(request, "performance/branch_scorecard.html", context)


@require_GET
@staff_required()
def rm_scorecard(request: HttpRequest, username: str) -> HttpResponse:
    rm = get_object_or_404(get_user_model(), username=username)
    rm_profile = staff_profile_for_user(rm)
    if rm_profile is None or rm_profile.role != Role.RM:
        raise Http404(_("%(user)s is not an RM.") % {"user": username})
    viewer = staff_profile_for_user(request.user)
    if rm.pk != request.user.pk and not _may_see_branch(viewer, rm_profile.branch_id):
        raise PermissionDenied
    run, periods = _run_for(request)
    context = {"rm": rm, "rm_profile": rm_profile, "run": run, "periods": periods,
               "may_see_branch": _may_see_branch(viewer, rm_profile.branch_id)}
    if run is not None:
        context["card"] = selectors.scorecard(run=run, scope=Scope.RM, scope_id=rm.pk, key=rm.get_username())
    return render(request, "performance/rm_scorecard.html", context)


@require_POST
@staff_required(Role.ANALYST)
def kpi_run_request(request: HttpRequest) -> HttpResponse:
    """"Run KPIs" for a period (queued; the run's start writes the audit record)."""
    return run_start_from_form(
        request, KpiRunForm(request.POST),
        lambda data: kpi_run_start(period=data["period"], started_by=request.user),
        invalid=_("A period is a month (2026-11) or a quarter (2026-Q4)."),
        queued=_("KPI run #%(run)s queued."), back_to="performance:index",
    )


@require_GET
@staff_required(Role.ANALYST)
def kpi_run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    return run_progress_bar(request, run_id=run_id, kind=KPI_RUN, prefix="kpi", title=_("KPI run #%(run)s"),
                            results="performance:index")


# Targets

def _target_branch(request: HttpRequest, profile: StaffProfile) -> Branch:
    """The branch whose targets the page shows: a supervisor's own; any (?branch=) for head office."""
    if profile.role in HEAD_OFFICE:
        code = request.GET.get("branch") or request.POST.get("branch")
        branch = Branch.objects.filter(code=code).first() if code else None
        return branch or Branch.objects.filter(is_active=True).order_by("code").first()
    if profile.role != Role.SUPERVISOR or profile.branch is None:
        raise PermissionDenied
    return profile.branch


@require_http_methods(["GET", "POST"])
@staff_required(Role.SUPERVISOR, Role.ANALYST)
def targets(request: HttpRequest) -> HttpResponse:
    """A period's targets of one branch and its RMs: set one, import a CSV file, approve a branch's."""
    profile = staff_profile_for_user(request.user)
    branch = _target_branch(request, profile)
    if branch is None:
        raise Http404(_("No branch."))
    period = request.GET.get("period") or request.POST.get("period") or period_of(timezone.localdate())
    try:
        period_days(period)
    except PeriodInvalid:
        raise Http404(_("A period is a month (2026-11) or a quarter (2026-Q4).")) from None
    rms = selectors.branch_rms(branch_id=branch.pk)
    form, file_form = TargetForm(rms=rms), TargetFileForm()
    here = f"{reverse('performance:targets')}?period={period}&branch={branch.code}"
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "set":
                form = TargetForm(request.POST, rms=rms)
                if form.is_valid():
                    who = form.cleaned_data["who"]
                    rm = next((user for user in rms if user.get_username() == who), None)
                    target = target_set(actor=request.user, kpi=form.cleaned_data["kpi"], period=period,
                                        value=form.cleaned_data["value"], rm=rm, branch=None if rm else branch,
                                        ip_address=request_ip(request))
                    messages.success(request, _("Target saved: waiting for a second approver.")
                                     if target.status == target.Status.PROPOSED else _("Target saved."))
                    return redirect(here)
            elif action == "import":
                file_form = TargetFileForm(request.POST, request.FILES)
                if file_form.is_valid():
                    content = file_form.cleaned_data["file"].read(MAX_BYTES + 1)
                    result = targets_import(content=content, actor=request.user, ip_address=request_ip(request))
                    messages.success(request, _("%(set)s targets set, %(proposed)s branch targets waiting for "
                                                "approval, %(bad)s lines refused.")
                                     % {"set": result.set, "proposed": result.proposed, "bad": len(result.errors)})
                    if result.errors:
                        return render(request, "performance/targets.html", _targets_context(
                            request, branch, period, rms, form, file_form, profile, import_errors=result.errors))
                    return redirect(here)
            elif action == "approve":
                target = get_object_or_404(KpiTarget, pk=id_from(request.POST.get("target")) or 0)
                target_approve(actor=request.user, target=target, value=Decimal(request.POST.get("value", "")),
                               ip_address=request_ip(request))
                messages.success(request, _("Branch target approved."))
                return redirect(here)
        except (ValidationError, TargetFileInvalid, InvalidOperation) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    return render(request, "performance/targets.html",
                  _targets_context(request, branch, period, rms, form, file_form, profile))


def _targets_context(request, branch, period, rms, form, file_form, profile, import_errors=None) -> dict:
    grid = selectors.target_grid(period=period, branch_id=branch.pk, rm_ids=[rm.pk for rm in rms])
    return {
        "branch": branch, "period": period, "rms": rms, "grid_rows": grid.rows([rm.pk for rm in rms]), "form": form,
        "file_form": file_form,
        "branches": Branch.objects.filter(is_active=True).order_by("code") if profile.role in HEAD_OFFICE else [],
        "may_set": target_may_set(request.user, scope=Scope.BRANCH, branch_id=branch.pk),
        "approvable": [target for target in grid.proposed if target_may_approve(request.user, target)],
        "import_errors": import_errors or [],
    }


# Exports

def _scope_for(request: HttpRequest, scope: str, key: str) -> tuple[int, str]:
    """The id and name of the RM (by username) or branch (by code) a page is about, if the viewer may
    see it: 404 for nobody of that kind, 403 for somebody else's."""
    viewer = staff_profile_for_user(request.user)
    if scope == Scope.BRANCH:
        branch = get_object_or_404(Branch, code=key)
        if not _may_see_branch(viewer, branch.pk):
            raise PermissionDenied
        return branch.pk, f"{branch.code} {branch.name}"
    rm = get_object_or_404(get_user_model(), username=key)
    rm_profile = staff_profile_for_user(rm)
    if rm_profile is None or rm_profile.role != Role.RM:
        raise Http404(_("%(user)s is not an RM.") % {"user": key})
    if rm.pk != request.user.pk and not _may_see_branch(viewer, rm_profile.branch_id):
        raise PermissionDenied
    return rm.pk, rm.get_full_name() or rm.get_username()


@require_GET
@staff_required()
def scorecard_export(request: HttpRequest, scope: str, key: str, file_format: str) -> HttpResponse:
    """A scorecard as CSV or XLSX (the same rules as the page; formula-like text neutralised), audited."""
    scope_id, name = _scope_for(request, scope, key)
    run, _periods = _run_for(request)
    if run is None:
        raise Http404(_("No KPI run has been published yet."))
    card = selectors.scorecard(run=run, scope=scope, scope_id=scope_id)
    rows = selectors.scorecard_rows(card=card, name=name)
    audit_record(actor=request.user, action=AuditEvent.Action.EXPORT, outcome=AuditEvent.Outcome.ALLOWED,
                 object_type="scorecard", object_id=f"{scope}:{key}", ip_address=request_ip(request),
                 detail={"period": card.period, "run": run.pk, "format": file_format})
    filename = f"scorecard-{scope}-{key}-{card.period}.{file_format}"
    if file_format == "xlsx":
        return xlsx_response(rows, filename=filename, title=card.period)
    return csv_response(rows, filename=filename)


# Diagnosis

@require_GET
@staff_required()
def diagnosis(request: HttpRequest, scope: str, key: str, kpi_code: str) -> HttpResponse:
    """Why a KPI of one RM or branch came out as it did: the waterfall from the target to the actual
    and the groups behind it (?by=tier|segment|rm)."""
    scope_id, name = _scope_for(request, scope, key)
    kpi = get_object_or_404(Kpi, code=kpi_code)
    available = ["tier", "segment", *(["rm"] if scope == Scope.BRANCH else []), *MEASURES[kpi.measure].groupings]
    grouping = request.GET.get("by", "tier")
    if grouping not in available:
        raise Http404(_("Unknown grouping."))
    run, periods = _run_for(request)
    if run is None:
        raise Http404(_("No KPI run has been published yet."))
    result = selectors.kpi_diagnosis(run=run, kpi=kpi, scope=scope, scope_id=scope_id, grouping=grouping)
    return render(request, "performance/diagnosis.html", {
        "d": result, "run": run, "periods": periods, "scope": scope, "key": key, "name": name,
        "groupings": [(g, GROUPING_LABELS[g]) for g in available],
        "steps": [(label, value, result.text(value)) for label, value in result.steps],
        "actual_text": result.text(result.result.actual),
        "scorecard_url": reverse("performance:rm" if scope == Scope.RM else "performance:branch", args=[key]),
    })


GROUPING_LABELS = {"tier": gettext_lazy("By value tier"), "segment": gettext_lazy("By segment"),
                   "rm": gettext_lazy("By RM"), "channel": gettext_lazy("By channel"),
                   "stage": gettext_lazy("By campaign stage")}


@require_GET
@staff_required(Role.SUPERVISOR, Role.ANALYST)
def campaign_scorecard(request: HttpRequest, pk: int) -> HttpResponse:
    from campaigns.models import Campaign
    from performance.campaign_scores import campaign_scorecard as scorecard_of

    campaign = get_object_or_404(Campaign.objects.select_related("product", "targeting_run"), pk=pk)
    return render(request, "performance/campaign_scorecard.html", {"card": scorecard_of(campaign=campaign)})


@require_GET
@staff_required(Role.SUPERVISOR, Role.ANALYST)
def campaign_scorecard_export(request: HttpRequest, pk: int, file_format: str) -> HttpResponse:
    """The campaign scorecard as CSV or XLSX (formula-like text neutralised), audited."""
    from campaigns.models import Campaign
    from performance.campaign_scores import campaign_scorecard as scorecard_of
    from performance.campaign_scores import campaign_scorecard_rows

    campaign = get_object_or_404(Campaign.objects.select_related("product", "targeting_run"), pk=pk)
    rows = campaign_scorecard_rows(scorecard_of(campaign=campaign))
    audit_record(actor=request.user, action=AuditEvent.Action.EXPORT, outcome=AuditEvent.Outcome.ALLOWED,
                 object_type="scorecard", object_id=f"campaign:{campaign.pk}",
                 ip_address=request_ip(request), detail={"format": file_format})
    filename = f"scorecard-campaign-{campaign.code}.{file_format}"
    if file_format == "xlsx":
        return xlsx_response(rows, filename=filename, title=campaign.code)
    return csv_response(rows, filename=filename)


# The supervisor's home

SLA_SOON = datetime.timedelta(hours=24)
HOME_ROWS = 10


@require_GET
@staff_required(Role.SUPERVISOR)
def supervisor_home(request: HttpRequest) -> HttpResponse:
    """One page for a branch supervisor (an administrator picks the branch): the branch's KPIs in the
    newest KPI run, its running campaigns, complaints near or past their SLA, incomplete profiles
    and silent top customers, each linking to the detail."""
    from campaigns.models import Campaign
    from channels.selectors.complaints import complaint_queue
    from channels.selectors.work import silent_top_customers
    from customers.models import Customer
    from customers.models.customer import INCOMPLETE_BELOW

    profile = staff_profile_for_user(request.user)
    if profile.role == Role.ADMIN:
        branch = Branch.objects.filter(code=request.GET.get("branch")).first() or Branch.objects.filter(
            is_active=True).order_by("code").first()
    else:
        branch = profile.branch
    if branch is None:
        raise Http404(_("No branch."))
    now = timezone.now()
    periods = selectors.kpi_periods()
    run = selectors.kpi_runs_by_period([periods[0]]).get(periods[0]) if periods else None
    card = selectors.scorecard(run=run, scope=Scope.BRANCH, scope_id=branch.pk) if run else None
    campaigns = (Campaign.objects.filter(status=Campaign.Status.ACTIVE)
                 .filter(Q(criteria__branches__contains=[branch.pk]) | ~Q(criteria__has_key="branches"))
                 .order_by("starts_on")[:HOME_ROWS])
    complaints = (complaint_queue(user=request.user, profile=profile, now=now, branch_id=branch.pk)
                  .filter(sla_due_at__lte=now + SLA_SOON)[:HOME_ROWS])
    incomplete = Customer.objects.filter(home_branch=branch, merged_into__isnull=True,
                                         completeness__lt=INCOMPLETE_BELOW).count()
    return render(request, "performance/supervisor_home.html", {
        "branch": branch, "run": run, "card": card, "campaigns": list(campaigns), "complaints": list(complaints),
        "now": now, "incomplete": incomplete, "incomplete_below": INCOMPLETE_BELOW,
        "silent": silent_top_customers(branch_id=branch.pk, now=now),
        "branches": Branch.objects.filter(is_active=True).order_by("code") if profile.role == Role.ADMIN else [],
    })


@require_GET
@staff_required()
def kpi_customer_list(request: HttpRequest, scope: str, key: str, kpi_code: str) -> HttpResponse:
    """The customers behind one scorecard figure, the biggest contribution first, paged."""
    scope_id, name = _scope_for(request, scope, key)
    kpi = get_object_or_404(Kpi, code=kpi_code)
    run, _periods = _run_for(request)
    if run is None:
        raise Http404(_("No KPI run has been published yet."))
    page = positive_int(request.GET.get("page"), 1)
    rows, more = selectors.kpi_customers(run=run, kpi=kpi, scope=scope, scope_id=scope_id, page=page)
    measure = MEASURES[kpi.measure]
    # A money measure's figures per customer are the customer's money: masked, row by row, for a
    # viewer without full access to that customer (an analyst sees the branch's figure, not whose).
    viewer = staff_profile_for_user(request.user)
    lines = [(row, measure.unit == Kpi.Unit.AMOUNT and money_masked_in_lists(profile=viewer, customer=row.customer))
             for row in rows]
    return render(request, "performance/kpi_customers.html", {
        "kpi": kpi, "run": run, "lines": lines, "more": more, "page": page, "name": name, "scope": scope, "key": key,
        "measure": measure,
        "scorecard_url": reverse("performance:rm" if scope == Scope.RM else "performance:branch", args=[key]),
    })
