"""The 360° page's contact panels (see channels/views/__init__.py): the unified timeline with its
filters and "load more", the touchpoint map (which also fills the header's complaint and churn
alerts), and the quick log form. Each request gets the customer through customer_get_for_user."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET, require_http_methods

from channels.forms import InteractionLogForm, TimelineFilterForm
from channels.panels import timeline_panel, touchpoint_panel
from channels.selectors.timeline import customer_touchpoint_map, timeline_page
from channels.services.interactions import interaction_log_by_staff
from crm_bank.audit.services import request_ip
from customers.access import customer_get_for_user, tombstone_redirect


@require_GET
def customer_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """The timeline panel for a filter (htmx swaps the panel), or the rows after a cursor ("load
    more" appends them); without htmx, the panel on a page of its own."""
    access = customer_get_for_user(user=request.user, customer_id=pk, request=request, purpose="timeline")
    filters = TimelineFilterForm(request.GET).values()
    panel = timeline_panel(access, timeline_page(customer_id=pk, **filters))
    if not request.htmx:
        template = "channels/customer_timeline.html"
    elif "before" in request.GET:
        template = "channels/_timeline_rows.html"
    else:
        template = "channels/_timeline_panel.html"
    return render(request, template, {"access": access, "timeline": panel})


@require_GET
def customer_touchpoints(request: HttpRequest, pk: int) -> HttpResponse:
    """The touchpoint map (htmx, loaded with the page so the page keeps its query budget), with the
    header's open-complaints alert and churn flag swapped in out of band."""
    access = customer_get_for_user(user=request.user, customer_id=pk, request=request, purpose="touchpoints")
    panel = touchpoint_panel(access, customer_touchpoint_map(customer_id=pk),
                             unused_days=settings.CRM_PREFERRED_CHANNEL_UNUSED_DAYS)
    return render(request, "channels/_touchpoints_panel.html", {"access": access, "touchpoints": panel})


@require_http_methods(["GET", "POST"])
def interaction_log(request: HttpRequest, pk: int) -> HttpResponse:
    """The quick log form (GET) and its submission (POST). Any member of staff who may open the
    customer may log a contact; a stored one tells the timeline to reload (HX-Trigger)."""
    access = customer_get_for_user(user=request.user, customer_id=pk, request=request, purpose="log interaction")
    if request.method == "POST" and (moved := tombstone_redirect(request, access)):
        return moved
    form = InteractionLogForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            interaction_log_by_staff(customer=access.customer, actor=request.user, ip_address=request_ip(request),
                                     **form.cleaned_data)
        except ValidationError as refused:
            form.add_service_errors(refused.message_dict)
        else:
            response = render(request, "channels/_interaction_form.html", {"access": access, "logged": True})
            response["HX-Trigger"] = "timeline-changed"
            return response
    return render(request, "channels/_interaction_form.html", {"access": access, "form": form})


urlpatterns: list = [
    path("customers/<int:pk>/timeline/", customer_timeline, name="customer-timeline"),
    path("customers/<int:pk>/touchpoints/", customer_touchpoints, name="customer-touchpoints"),
    path("customers/<int:pk>/interactions/new/", interaction_log, name="interaction-log"),
]
