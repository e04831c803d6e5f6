"""Campaign pages: the list, drafting and editing, a campaign with its maker-checker steps, and the
approval queue. Each view parses input, calls campaigns.services / selectors, renders."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from campaigns import dashboard, services, targeting, work_queue
from campaigns.forms import CampaignForm, RejectForm
from campaigns.models import Campaign, CampaignContact
from campaigns.selectors import (
    STEP_LABELS,
    campaign_cost_lines,
    campaign_criteria_lines,
    campaign_list_with_results,
    campaigns_waiting_for,
    customers_by_source,
)
from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import request_ip
from crm_bank.org.decorators import staff_required
from crm_bank.org.models import StaffProfile
from crm_bank.org.selectors import staff_profile_for_user
from crm_bank.runs.errors import RunError
from crm_bank.runs.selectors import run_progress
from crm_bank.ui.paginators import id_from
from customers.models import Channel, Customer

Role = StaffProfile.Role
# Who drafts campaigns: supervisors, analysts and administrators (RMs work the targets).
MAKER_ROLES = (Role.SUPERVISOR, Role.ANALYST, Role.ADMIN)
CHECKER_ROLES = (Role.SUPERVISOR, Role.ADMIN)


@staff_required()
def index(request: HttpRequest) -> HttpResponse:
    page = Paginator(campaign_list_with_results(), 25).get_page(request.GET.get("page"))
    # Only an empty list needs to say what is loaded instead (a count over every source record).
    sources = [] if page.object_list else customers_by_source()
    profile = staff_profile_for_user(request.user)
    return render(request, "campaigns/index.html", {
        "page": page, "sources": sources, "may_draft": profile is not None and profile.role in MAKER_ROLES,
    })


@require_http_methods(["GET", "POST"])
@staff_required(*MAKER_ROLES)
def campaign_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """A new draft, or a change to one not yet running (which sends a submitted one back to draft)."""
    campaign = get_object_or_404(Campaign, pk=pk) if pk else None
    form = CampaignForm(request.POST or None, campaign=campaign)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.campaign_save(actor=request.user, campaign=campaign, ip_address=request_ip(request),
                                              **form.campaign_fields())
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, _("Campaign saved as a draft."))
            return redirect("campaigns:detail", pk=campaign.pk)
    return render(request, "campaigns/campaign_form.html", {"form": form, "campaign": campaign})


@staff_required()
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign.objects.select_related("product", "created_by", "submitted_by",
                                                                 "decided_by", "targeting_run"), pk=pk)
    profile = staff_profile_for_user(request.user)
    is_maker = request.user.pk in (campaign.created_by_id, campaign.submitted_by_id)
    steps = [(event, STEP_LABELS.get(event.detail.get("step"), event.get_action_display()))
             for event in AuditEvent.objects.filter(object_type="campaign", object_id=str(campaign.pk))
             .select_related("actor").order_by("-occurred_at")[:20]]
    return render(request, "campaigns/campaign_detail.html", {
        "campaign": campaign, "steps": steps, "reject_form": RejectForm(),
        "criteria": campaign_criteria_lines(campaign), "costs": campaign_cost_lines(campaign),
        "may_edit": profile is not None and profile.role in MAKER_ROLES and campaign.status in targeting.TARGETABLE
        and services.campaign_may_change(profile=profile, campaign=campaign),
        "may_decide": campaign.status == Campaign.Status.SUBMITTED and not is_maker
        and services.campaign_may_decide(profile=profile, campaign=campaign),
        "is_maker": is_maker,
        # Launching and closing are the checker's of this campaign; a launch needs the targets of the
        # version that was approved.
        "may_run": services.campaign_may_decide(profile=profile, campaign=campaign),
        "targets_current": services.campaign_targets_current(campaign),
        "targeting": _targeting_summary(campaign),
        "targeting_active": targeting.targeting_active(campaign=campaign),
    })


def _targeting_summary(campaign: Campaign) -> dict | None:
    """The published targeting's counts per reason and strategy comparison, labelled for the page."""
    run = campaign.targeting_run
    if run is None or not run.metrics:
        return None
    metrics = run.metrics
    return {
        "run": run, "eligible": metrics.get("eligible", 0), "propensity_model": metrics.get("propensity_model"),
        "counts": [(str(targeting.COUNT_LABELS.get(key, key)), key, value) for key, value in metrics["counts"].items()],
        "comparison": [(str(targeting.STRATEGY_LABELS[key]), key, figures)
                       for key, figures in metrics.get("comparison", {}).items()],
    }


@require_POST
@staff_required(*MAKER_ROLES)
def campaign_targeting_start(request: HttpRequest, pk: int) -> HttpResponse:
    """Queues the targeting run; the page then shows its progress bar."""
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        targeting.targeting_start(campaign=campaign, actor=request.user)
    except RunError as error:
        messages.error(request, str(error))
    return redirect("campaigns:detail", pk=pk)


@staff_required()
def campaign_targeting_progress(request: HttpRequest, pk: int, run_id: int) -> HttpResponse:
    progress = run_progress(run_id=run_id)
    if progress is None or progress.kind != targeting.CAMPAIGN_TARGETING:
        raise Http404
    return render(request, "runs/_run_progress.html", {
        "progress": progress, "prefix": "targeting", "title": _("Targeting run #%(run)s") % {"run": run_id},
        "poll_url": request.path, "results_url": reverse("campaigns:detail", args=[pk]),
        "done_text": _("Targeting is done: show the counts"),
    })


def _step(request: HttpRequest, pk: int, step, success: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        step(campaign)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, success)
    return redirect("campaigns:detail", pk=pk)


def _step_view(service, roles: tuple[str, ...], success):
    """A POST view that takes one maker-checker step on a campaign and goes back to its page."""
    @require_POST
    @staff_required(*roles)
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        return _step(request, pk, lambda c: service(campaign=c, actor=request.user, ip_address=request_ip(request)),
                     success)

    return view


campaign_submit = _step_view(services.campaign_submit, MAKER_ROLES, gettext_lazy("Submitted for approval."))
campaign_launch = _step_view(services.campaign_launch, CHECKER_ROLES, gettext_lazy("The campaign is running."))
campaign_close = _step_view(services.campaign_close, CHECKER_ROLES, gettext_lazy("The campaign is closed."))


@require_POST
@staff_required(*CHECKER_ROLES)
def campaign_approve(request: HttpRequest, pk: int) -> HttpResponse:
    version = request.POST.get("version", "")
    return _step(request, pk, lambda c: services.campaign_approve(
        campaign=c, actor=request.user, version=-1 if (number := id_from(version)) is None else number,
        ip_address=request_ip(request)), _("Approved."))


@require_POST
@staff_required(*CHECKER_ROLES)
def campaign_reject(request: HttpRequest, pk: int) -> HttpResponse:
    form = RejectForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    return _step(request, pk, lambda c: services.campaign_reject(campaign=c, actor=request.user, reason=reason,
                                                                 ip_address=request_ip(request)),
                 _("Rejected; the maker sees your reason."))


@staff_required(*CHECKER_ROLES)
def approvals(request: HttpRequest) -> HttpResponse:
    """The campaigns waiting for this user's approval, the longest waiting first, against the SLA."""
    waiting = campaigns_waiting_for(profile=staff_profile_for_user(request.user))
    return render(request, "campaigns/approvals.html", {
        "waiting": waiting, "sla_hours": settings.CRM_CAMPAIGN_APPROVAL_SLA_HOURS,
    })


@staff_required(Role.RM, Role.SUPERVISOR, Role.ADMIN)
def rm_queue(request: HttpRequest) -> HttpResponse:
    """The RM's campaign calls: own book first, then the branch pool, with one-click outcomes."""
    return render(request, "campaigns/rm_queue.html", {
        "lines": work_queue.rm_campaign_queue(rm=request.user),
        "outcomes": [(code, CampaignContact.Outcome(code).label) for code in work_queue.QUEUE_OUTCOMES],
    })


@require_POST
@staff_required(Role.RM, Role.SUPERVISOR, Role.ADMIN)
def campaign_outcome(request: HttpRequest, pk: int, customer_pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign.objects.select_related("product"), pk=pk)
    customer = get_object_or_404(Customer, pk=customer_pk)
    try:
        contact = work_queue.campaign_outcome_record(
            campaign=campaign, customer=customer, actor=request.user, outcome=request.POST.get("outcome", ""),
            note=request.POST.get("note", "")[:300], ip_address=request_ip(request))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("%(customer)s: %(outcome)s, on the customer's timeline.")
                         % {"customer": customer.display_name, "outcome": contact.get_outcome_display()})
    return redirect("campaigns:queue")


DASHBOARD_HOURS = 48


@staff_required()
def campaign_dashboard(request: HttpRequest, pk: int) -> HttpResponse:
    """The war room: the page, and (htmx, every few seconds) its live part alone."""
    campaign = get_object_or_404(Campaign.objects.select_related("product", "targeting_run"), pk=pk)
    if campaign.status in (Campaign.Status.COMPLETED, Campaign.Status.CANCELLED):
        # A closed campaign's results (the historic one's among them): nothing live to poll.
        results = dashboard.campaign_results(campaign=campaign)
        return render(request, "campaigns/dashboard_closed.html", {
            "campaign": campaign, "results": results,
            "chart_labels": [line.label for line in results.months],
            "chart_contacted": [line.contacted for line in results.months],
            "chart_rate": [line.percent for line in results.months],
        })
    starts, series, events, conversions = dashboard.events_per_hour(campaign=campaign, hours=DASHBOARD_HOURS)
    sizes = dashboard.targeting_group_sizes(campaign)
    funnel, spend = dashboard.campaign_funnel_and_spend(campaign=campaign, group_sizes=sizes)
    slow = dashboard.campaign_slow_figures(campaign=campaign, group_sizes=sizes)
    labels = dict(Channel.choices)
    context = {
        "campaign": campaign, "funnel": funnel,
        "uplift": slow.uplift, "spend": spend, "leaders": slow.leaders, "slow_at": slow.computed_at,
        "leaders_min": dashboard.LEADERS_MIN_CONTACTED,
        "events": events, "conversions": conversions, "hours": DASHBOARD_HOURS,
        "chart_labels": [timezone.localtime(start).strftime("%d %H:00") for start in starts],
        "chart_series": [(str(labels.get(channel, channel)), values) for channel, values in series.items()],
        "refreshed_at": timezone.now(),
    }
    staffing = dashboard.campaign_staffing(campaign=campaign)
    # Hours with nobody expected and nobody rostered say nothing: left out of the table.
    context["staffing_plan"] = [(str(labels.get(line.channel, line.channel)), line) for line in staffing.plan
                                if line.arrivals or line.rostered]
    context["staffing_advice"] = [(str(labels.get(item.channel, item.channel)), item.hours, abs(item.gap), item.gap > 0)
                                  for item in staffing.advice]
    template = "campaigns/_dashboard_live.html" if request.htmx else "campaigns/dashboard.html"
    return render(request, template, context)
