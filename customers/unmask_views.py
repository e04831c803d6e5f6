"""Break the glass on the 360° page ("unmask for a reason") and the supervisors' report of it."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm_bank.audit.services import request_ip
from crm_bank.org.decorators import staff_required
from crm_bank.org.models import StaffProfile
from crm_bank.org.selectors import staff_profile_for_user
from crm_bank.ui.forms import DateRangeForm
from crm_bank.ui.paginators import positive_int
from customers.access import UNMASK_ROLES, customer_get_for_user
from customers.models import UnmaskGrant
from customers.unmasking import EXPLANATION_MIN_LENGTH, unmask_grant, unmask_grants_for_supervisor

Role = StaffProfile.Role
REPORT_ROLES = (Role.SUPERVISOR, Role.ADMIN, Role.COMPLIANCE)
REPORT_PAGE_SIZE = 50


class UnmaskForm(forms.Form):
    reason = forms.ChoiceField(label=gettext_lazy("Why do you need the full record?"),
                               choices=UnmaskGrant.Reason.choices, widget=forms.RadioSelect)
    explanation = forms.CharField(
        label=gettext_lazy("Explain"), min_length=EXPLANATION_MIN_LENGTH, max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Recorded with your name; the supervisors of the customer's branch and yours see it."),
    )


class UnmaskReportFilter(DateRangeForm):
    username = forms.CharField(label=gettext_lazy("Staff member (user name)"), required=False, max_length=150)


@staff_required(*UNMASK_ROLES)
def customer_unmask(request: HttpRequest, pk: int) -> HttpResponse:
    access = customer_get_for_user(user=request.user, customer_id=pk, request=request, purpose="unmask form")
    if not access.masked:
        return redirect("customers:customer-detail", pk=pk)
    form = UnmaskForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            grant = unmask_grant(user=request.user, customer_id=pk, reason=form.cleaned_data["reason"],
                                 explanation=form.cleaned_data["explanation"], ip_address=request_ip(request))
        except ValidationError as error:
            if hasattr(error, "error_dict"):
                for field, errors in error.error_dict.items():
                    for message in errors:
                        form.add_error(field, message)
            else:
                form.add_error(None, error)
        else:
            messages.success(request, _("The record is shown in full until %(time)s.") % {
                "time": timezone.localtime(grant.expires_at).strftime("%H:%M")})
            return redirect("customers:customer-detail", pk=pk)
    return render(request, "customers/unmask.html", {
        "access": access, "form": form, "minutes": settings.CRM_UNMASK_MINUTES,
    }, status=400 if request.method == "POST" else 200)


@staff_required(*REPORT_ROLES)
def unmask_report(request: HttpRequest) -> HttpResponse:
    profile = staff_profile_for_user(request.user)
    form = UnmaskReportFilter(request.GET or None)
    if form.is_bound and not form.is_valid():
        grants = UnmaskGrant.objects.none()  # the form says what is wrong; no guess at what was meant
    else:
        since, until = form.moments() if form.is_bound else (None, None)
        username = form.cleaned_data["username"].strip() if form.is_bound else ""
        grants = unmask_grants_for_supervisor(profile=profile, since=since, until=until, username=username)
    page = Paginator(grants, REPORT_PAGE_SIZE).get_page(positive_int(request.GET.get("page"), 1))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "customers/unmask_report.html", {
        "form": form, "page": page, "query": query.urlencode(), "now": timezone.now(),
        "all_branches": profile.role != Role.SUPERVISOR,
    })


urlpatterns = [
    path("<int:pk>/unmask/", customer_unmask, name="customer-unmask"),
    path("unmasked/", unmask_report, name="unmask-report"),
]
