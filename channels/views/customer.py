"""The 360° page's contact panels (see channels/views/__init__.py): the unified timeline with its
filters and "load more", the touchpoint map (which also fills the header's complaint and churn
alerts), and the quick log form. Each request gets the customer through customer_get_for_user."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods

from channels.forms import InteractionLogForm, TimelineFilterForm
from channels.models import Interaction, Task
from channels.panels import timeline_panel, touchpoint_panel
from channels.selectors.timeline import customer_touchpoint_map, timeline_page
from channels.services.interactions import interaction_record
from channels.services.work import task_create
from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record, request_ip
from customers.access import CustomerAccess, customer_get_for_user
from customers.models import Customer

FOLLOW_UP_HOUR = datetime.time(9, 0)


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
    form = InteractionLogForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            _interaction_log(access, actor=request.user, data=form.cleaned_data, ip_address=request_ip(request))
        except ValidationError as refused:
            form.add_service_errors(refused.message_dict)
        else:
            response = render(request, "channels/_interaction_form.html", {"access": access, "logged": True})
            response["HX-Trigger"] = "timeline-changed"
            return response
    return render(request, "channels/_interaction_form.html", {"access": access, "form": form})


def _interaction_log(access: CustomerAccess, *, actor: AbstractBaseUser, data: dict, ip_address: str | None) -> None:
    """The contact and its follow-up task in one transaction: a refused contact leaves no task.

    1. The customer's row is locked, so a form sent twice (a double click, a retried request) is
       handled one after the other.
    2. The same member of staff logging the same contact at the same moment again is that retry:
       nothing more is written.
    3. The contact is stored (validated and audited by interaction_record), then its follow-up task.
    """
    with transaction.atomic():
        list(Customer.objects.select_for_update().filter(pk=access.customer.pk).values_list("pk"))
        if Interaction.objects.filter(
            customer_id=access.customer.pk, occurred_at=data["occurred_at"], staff_id=actor.pk,
            channel=data["channel"], kind=data["kind"], direction=data["direction"], summary=data["summary"],
            outcome=data["outcome"],
        ).exists():
            return
        stored = interaction_record(
            customer=access.customer, actor=actor, channel=data["channel"], kind=data["kind"],
            direction=data["direction"], occurred_at=data["occurred_at"], summary=data["summary"],
            outcome=data["outcome"], ip_address=ip_address,
        )
        if data.get("follow_up_on"):
            _follow_up_create(access, actor=actor, interaction=stored, day=data["follow_up_on"], ip_address=ip_address)


def _follow_up_create(
    access: CustomerAccess, *, actor: AbstractBaseUser, interaction: Interaction, day: datetime.date,
    ip_address: str | None,
) -> None:
    due_at = timezone.make_aware(datetime.datetime.combine(day, FOLLOW_UP_HOUR))
    task = task_create(
        assignee=actor, kind=Task.Kind.FOLLOW_UP, customer=access.customer, actor=actor, due_at=due_at,
        title=gettext("Follow up with %(customer)s") % {"customer": access.customer.display_name},
        detail=interaction.summary if not interaction.outcome else f"{interaction.summary}\n{interaction.outcome}",
        interaction_id=interaction.pk, dedupe_key=f"follow-up:interaction:{interaction.pk}",
    )
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, outcome=AuditEvent.Outcome.ALLOWED,
                 object_type="task", object_id=task.pk, ip_address=ip_address,
                 detail={"customer": access.customer.pk, "kind": Task.Kind.FOLLOW_UP, "interaction": interaction.pk})


urlpatterns: list = [
    path("customers/<int:pk>/timeline/", customer_timeline, name="customer-timeline"),
    path("customers/<int:pk>/touchpoints/", customer_touchpoints, name="customer-touchpoints"),
    path("customers/<int:pk>/interactions/new/", interaction_log, name="interaction-log"),
]
