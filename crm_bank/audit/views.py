"""The compliance officers' read-only search of the audit trail (and its CSV export)."""

from __future__ import annotations

import json
from itertools import chain

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm_bank.audit.models import AuditEvent
from crm_bank.audit.selectors import AuditQuery, audit_events_search
from crm_bank.audit.services import audit_record, request_ip
from crm_bank.exports import csv_response
from crm_bank.org.decorators import staff_required
from crm_bank.org.models import StaffProfile
from crm_bank.ui.forms import DateRangeForm
from crm_bank.ui.paginators import CappedCountPaginator, positive_int

AUDIT_ROLES = (StaffProfile.Role.COMPLIANCE, StaffProfile.Role.ADMIN)
PAGE_SIZE = 50
EXPORT_LIMIT = 10_000


def _choices(choices) -> list[tuple[str, str]]:
    return [("", _("any"))] + list(choices)


class AuditSearchForm(DateRangeForm):
    username = forms.CharField(label=_("Staff member (user name)"), required=False, max_length=150)
    action = forms.ChoiceField(label=_("Action"), required=False, choices=_choices(AuditEvent.Action.choices))
    outcome = forms.ChoiceField(label=_("Outcome"), required=False, choices=_choices(AuditEvent.Outcome.choices))
    object_type = forms.CharField(
        label=_("Object type"), required=False, max_length=40,
        help_text=_("For example customer, customer_search, login, complaint, campaign, import_batch."),
    )
    object_id = forms.CharField(label=_("Object ID"), required=False, max_length=40,
                                help_text=_("A customer's internal number, or the user name for a login."))
    ip_address = forms.GenericIPAddressField(label=_("IP address"), required=False)

    def audit_query(self) -> AuditQuery:
        data = self.cleaned_data
        since, until = self.moments()
        return AuditQuery(
            username=data["username"].strip(), action=data["action"], outcome=data["outcome"],
            object_type=data["object_type"].strip(), object_id=data["object_id"].strip(),
            ip_address=data["ip_address"] or "",
            since=since, until=until,
        )


@staff_required(*AUDIT_ROLES)
def audit_search(request: HttpRequest) -> HttpResponse:
    form = AuditSearchForm(request.GET or None)
    searched = form.is_bound and form.is_valid()
    query = form.audit_query() if searched else AuditQuery()
    events = audit_events_search(query) if not form.is_bound or searched else AuditEvent.objects.none()
    # The search is itself on the trail: who looked for what.
    audit_record(actor=request.user, action=AuditEvent.Action.VIEW, outcome=AuditEvent.Outcome.ALLOWED,
                 object_type="audit_search", object_id="", ip_address=request_ip(request), detail=query.as_detail())
    if request.GET.get("format") == "csv" and searched:
        return _export(request, query, events)
    page = CappedCountPaginator(events, PAGE_SIZE).get_page(positive_int(request.GET.get("page"), 1))
    params = request.GET.copy()
    params.pop("page", None)
    params.pop("format", None)
    return render(request, "audit/search.html", {"form": form, "page": page, "query": params.urlencode()})


def _export(request: HttpRequest, query: AuditQuery, events) -> HttpResponse:
    audit_record(actor=request.user, action=AuditEvent.Action.EXPORT, outcome=AuditEvent.Outcome.ALLOWED,
                 object_type="audit_search", object_id="", ip_address=request_ip(request),
                 detail={**query.as_detail(), "limit": EXPORT_LIMIT})
    header = ["occurred_at", "actor", "action", "outcome", "object_type", "object_id", "ip_address", "detail"]
    rows = ([event.occurred_at.isoformat(), event.actor.username if event.actor else "", event.action, event.outcome,
             event.object_type, event.object_id, event.ip_address or "", json.dumps(event.detail, ensure_ascii=False)]
            for event in events[:EXPORT_LIMIT].iterator(chunk_size=1000))
    return csv_response(chain([header], rows), filename=f"audit-{timezone.localdate():%Y%m%d}.csv")


app_name = "audit"
urlpatterns = [path("", audit_search, name="search")]
