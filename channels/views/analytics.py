"""Pages of the channels app (see channels/views/__init__.py): the channels hub page and the channel
analytics for supervisors (their branch) and analysts (the bank)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.formats import date_format
from django.utils.translation import gettext

from channels.analytics_forms import ChannelAnalyticsForm
from channels.selectors.analytics import (
    analytics_branches_for,
    channel_analytics,
    channel_analytics_chart_data,
    channel_analytics_default_range,
    channel_analytics_latest_day,
)
from crm_bank.org.decorators import staff_required
from crm_bank.org.models import StaffProfile
from crm_bank.org.selectors import staff_profile_for_user

Role = StaffProfile.Role


@staff_required()
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "channels/index.html")


@staff_required(Role.SUPERVISOR, Role.ANALYST)
def analytics(request: HttpRequest) -> HttpResponse:
    """Contacts per channel and week, inbound against outbound, and the channel mix per branch."""
    branches, all_allowed = analytics_branches_for(profile=staff_profile_for_user(request.user))
    form = ChannelAnalyticsForm(request.GET, branches=branches, all_allowed=all_allowed)
    context: dict = {"form": form, "result": None, "has_branch": bool(branches) or all_allowed}
    if form.is_valid() and context["has_branch"]:
        branch_ids = form.branch_ids()
        latest = channel_analytics_latest_day(branch_ids=branch_ids)
        context["latest"] = latest
        if latest is not None:
            date_from, date_to = form.date_range(default=channel_analytics_default_range(latest=latest))
            result = channel_analytics(date_from=date_from, date_to=date_to, branch_ids=branch_ids,
                                       kind=form.cleaned_data["kind"] or None)
            context["result"] = result
            context["chart"] = channel_analytics_chart_data(
                analytics=result, week_labels=[date_format(w, "SHORT_DATE_FORMAT") for w in result.weeks],
                no_branch_label=gettext("No branch"))
    template = "channels/_analytics_body.html" if request.htmx else "channels/analytics.html"
    return render(request, template, context)


urlpatterns: list = [
    path("", index, name="index"),
    path("analytics/", analytics, name="analytics"),
]
