"""Complaint pages: open a case (htmx form on the 360° page), the supervisor's queue, the case page
with its actions, and the SLA report."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.complaint_forms import (
    ComplaintAssignForm,
    ComplaintOpenForm,
    ComplaintQueueFilterForm,
    ComplaintReportForm,
    ComplaintStatusForm,
    SkippedBranchAnswerForm,
)
from channels.models import Complaint
from channels.selectors import complaints as select
from channels.services import complaints as services
from crm_bank.audit.services import request_ip
from crm_bank.org.decorators import staff_required
from crm_bank.org.models import StaffProfile
from crm_bank.org.selectors import staff_profile_for_user
from crm_bank.ui.paginators import CappedCountPaginator
from customers.access import customer_get_for_user, tombstone_redirect

Role = StaffProfile.Role
QUEUE_PER_PAGE = 25


def _form_errors(form: forms.Form, error: ValidationError) -> None:
    """A service's per-field messages onto the form (unknown fields at the top)."""
    for field, messages_ in getattr(error, "message_dict", {None: error.messages}).items():
        form.add_error(field if field in form.fields else None, messages_)


@staff_required()
def complaint_open(request: HttpRequest, customer_pk: int) -> HttpResponse:
    access = customer_get_for_user(user=request.user, customer_id=customer_pk, request=request, purpose="complaint")
    if request.method == "POST" and (moved := tombstone_redirect(request, access)):
        return moved
    form = ComplaintOpenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            complaint = services.complaint_open(customer=access.customer, actor=request.user,
                                                ip_address=request_ip(request), **form.cleaned_data)
        except ValidationError as error:
            _form_errors(form, error)
        else:
            # Staff of another branch may open a case they may not follow: they go back to the customer.
            case_visible = select.complaint_visible_by_pk(pk=complaint.pk, user=request.user,
                                                          profile=staff_profile_for_user(request.user))
            if not request.htmx and case_visible:
                messages.success(request, _("Complaint #%(id)s opened.") % {"id": complaint.pk})
                return redirect("channels:complaint-detail", pk=complaint.pk)
            if not request.htmx:
                messages.success(request, _("Complaint #%(id)s opened; the customer's branch handles it.")
                                 % {"id": complaint.pk})
                return redirect("customers:customer-detail", pk=access.customer.pk)
            response = render(request, "channels/_complaint_opened.html",
                              {"complaint": complaint, "access": access, "case_visible": case_visible})
            response["HX-Trigger"] = "timeline-changed"
            return response
    template = "channels/_complaint_open_form.html" if request.htmx else "channels/complaint_open.html"
    return render(request, template, {"form": form, "access": access})


@staff_required()
def complaint_queue(request: HttpRequest) -> HttpResponse:
    profile = staff_profile_for_user(request.user)
    form = ComplaintQueueFilterForm(request.GET or None, branches=profile.role == Role.ADMIN)
    chosen = form.cleaned_data if form.is_valid() else {}
    now = timezone.now()
    queryset = select.complaint_queue(
        user=request.user, profile=profile, now=now, status=chosen.get("status", ""),
        severity=chosen.get("severity", ""), category=chosen.get("category", ""),
        skip_level=chosen.get("skip_level", ""), branch_id=chosen["branch"].pk if chosen.get("branch") else None,
    )
    page = CappedCountPaginator(queryset, QUEUE_PER_PAGE).get_page(request.GET.get("page"))
    rows = [(complaint, select.complaint_sla_state(complaint, now=now)) for complaint in page]
    filter_query = request.GET.copy()
    filter_query.pop("page", None)
    return render(request, "channels/complaint_queue.html", {"form": form, "page": page, "rows": rows,
                  "profile": profile, "now": now, "filter_query": filter_query.urlencode()})


def _case(request: HttpRequest, pk: int) -> tuple[Complaint, object, StaffProfile]:
    complaint = select.complaint_detail(pk=pk)
    if complaint is None:
        raise Http404(_("No such complaint."))
    profile = staff_profile_for_user(request.user)
    if not select.complaint_visible_to(complaint=complaint, user=request.user, profile=profile):
        raise PermissionDenied
    access = customer_get_for_user(user=request.user, customer_id=complaint.customer_id, request=request,
                                   purpose="complaint")
    return complaint, access, profile


def _detail(request: HttpRequest, complaint: Complaint, access: object, profile: StaffProfile,
            **bound: forms.Form) -> HttpResponse:
    may_act = services.complaint_may_act(complaint=complaint, user=request.user, profile=profile)
    staff = select.complaint_assignable_staff(branch_id=complaint.branch_id)

    def shown(text: str) -> str:
        # Whoever handles the case reads what was said in full; other viewers per the masking rules.
        return text if may_act else access.shown("complaint_description", text)

    context = {
        "complaint": complaint, "access": access, "may_act": may_act, "texts_masked": not may_act and access.masked,
        "may_assign": services.complaint_may_assign(complaint=complaint, user=request.user, profile=profile),
        # The skipped branch answers (its supervisor, or an admin) even though the case is not its own.
        "may_answer": profile.role == Role.ADMIN or (
            profile.role == Role.SUPERVISOR and profile.branch_id == complaint.branch_id),
        "description": shown(complaint.description), "resolution": shown(complaint.resolution),
        "branch_answer": shown(complaint.skipped_branch_answer),
        "events": [(event, shown(event.note)) for event in complaint.events.all()],
        "interactions": [(interaction, access.shown("interaction_summary", interaction.summary))
                         for interaction in complaint.interactions.all()],
        "sla": select.complaint_sla_state(complaint, now=timezone.now()),
        "assign_form": bound.get("assign_form") or ComplaintAssignForm(staff=staff),
        "status_form": bound.get("status_form") or ComplaintStatusForm(current=complaint.status),
        "answer_form": bound.get("answer_form") or SkippedBranchAnswerForm(),
    }
    return render(request, "channels/complaint_detail.html", context, status=400 if bound else 200)


@staff_required()
def complaint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, *_case(request, pk))


def _act(request: HttpRequest, pk: int, *, name: str, form: forms.Form, run: Callable[[Complaint, dict], object],
         done: str) -> HttpResponse:
    """POST of one action form on the case page: the service, then back to the case (PRG)."""
    case = _case(request, pk)
    if request.method == "POST" and form.is_valid():
        try:
            run(case[0], form.cleaned_data)
        except ValidationError as error:
            _form_errors(form, error)
        else:
            messages.success(request, done)
            return redirect("channels:complaint-detail", pk=pk)
    elif request.method != "POST":
        return redirect("channels:complaint-detail", pk=pk)
    return _detail(request, *case, **{name: form})


@staff_required()
def complaint_assign(request: HttpRequest, pk: int) -> HttpResponse:
    staff = select.complaint_assignable_staff(branch_id=Complaint.objects.filter(pk=pk).values("branch_id")[:1])
    return _act(request, pk, name="assign_form", form=ComplaintAssignForm(request.POST or None, staff=staff),
                done=_("The case was assigned."), run=lambda c, data: services.complaint_assign(
                    complaint=c, actor=request.user, ip_address=request_ip(request), **data))


@staff_required()
def complaint_status(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, name="status_form", form=ComplaintStatusForm(request.POST or None),
                done=_("The case's status was changed."), run=lambda c, data: services.complaint_update_status(
                    complaint=c, actor=request.user, ip_address=request_ip(request), **data))


@staff_required()
def complaint_answer(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, name="answer_form", form=SkippedBranchAnswerForm(request.POST or None),
                done=_("The branch's answer was recorded."), run=lambda c, data:
                services.complaint_answer_for_skipped_branch(complaint=c, actor=request.user,
                                                             ip_address=request_ip(request), **data))


@staff_required(Role.SUPERVISOR)
def complaint_report(request: HttpRequest) -> HttpResponse:
    profile = staff_profile_for_user(request.user)
    form = ComplaintReportForm(request.GET or None, branches=profile.role == Role.ADMIN)
    chosen = form.cleaned_data if form.is_valid() else {}
    now = timezone.now()
    since = select.report_since(months=chosen.get("months") or 12, now=now)
    scope = {"user": request.user, "profile": profile, "since": since,
             "branch_id": chosen["branch"].pk if chosen.get("branch") else None}
    months = select.report_months(since=since, now=now)
    by_branch = select.complaint_sla_by_month(by="branch", now=now, **scope)
    by_category = select.complaint_sla_by_month(by="category", now=now, **scope)
    category_labels = dict(Complaint.Category.choices)
    return render(request, "channels/complaint_report.html", {
        "form": form, "months": months,
        "month_labels": [f"{year}-{month:02d}" for year, month in months],
        "branches": select.compliance_series(by_branch, key="branch_id", months=months),
        "categories": [{**series, "label": str(category_labels.get(series["key"], series["key"]))}
                       for series in select.compliance_series(by_category, key="category", months=months)],
        "overall": select.compliance_overall(by_branch, months=months),
        "skip_level": select.complaint_skip_level_by_branch(**scope),
        "feedback": select.feedback_response_by_product(user=request.user, profile=profile, since=since, now=now),
    })


urlpatterns: list = [
    path("customers/<int:customer_pk>/complaints/new/", complaint_open, name="complaint-open"),
    path("complaints/", complaint_queue, name="complaint-queue"),
    path("complaints/report/", complaint_report, name="complaint-report"),
    path("complaints/<int:pk>/", complaint_detail, name="complaint-detail"),
    path("complaints/<int:pk>/assign/", complaint_assign, name="complaint-assign"),
    path("complaints/<int:pk>/status/", complaint_status, name="complaint-status"),
    path("complaints/<int:pk>/answer/", complaint_answer, name="complaint-answer"),
]
