from __future__ import annotations

from collections.abc import Callable, Iterable

from django.contrib import admin
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.utils.text import smart_split, unescape_string_literal

from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record, request_ip


class ReadOnlyAdminMixin:
    """Viewing only: what a service writes (source data, hand-overs, runs, timelines, campaign
    outcomes) is not edited in the admin, so no change can bypass a service and its audit row."""

    def has_add_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False


class ReadOnlyModelAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    pass


class ChangesAuditedAdmin(admin.ModelAdmin):
    """Settings an administrator edits: every save lands in the audit trail with the values changed
    to (the bank's admin site audits every deletion, crm_bank.admin_site)."""

    audit_object_type = ""
    audits_its_saves = True

    def save_model(self, request: HttpRequest, obj: Model, form: ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_record(actor=request.user, action=AuditEvent.Action.CHANGE if change else AuditEvent.Action.CREATE,
                     outcome=AuditEvent.Outcome.ALLOWED, object_type=self.audit_object_type, object_id=obj.pk,
                     ip_address=request_ip(request),
                     detail={"fields": {name: str(form.cleaned_data.get(name)) for name in form.changed_data}})


class AuditedModelAdmin(admin.ModelAdmin):
    """An admin whose record pages and list searches land in the audit trail, like the app's pages.

    Subclasses name `audit_object_type`, and may give `audit_customer_ids` (whose data a record
    page shows) and `search_kinds` (which search field is which kind of identifier). A search is
    recorded with the kind of identifier it matched, never the typed value.
    """

    audit_object_type: str = ""
    # (search field path, kind of identifier), for the fields the list searches by exact value.
    search_kinds: tuple[tuple[str, str], ...] = ()
    # The kind recorded when results came back but no identifier field equals the query.
    search_prefix_kind: str = ""

    def audit_customer_ids(self, object_id: str) -> list[int]:
        """The customers whose data the record's page shows (none when the record is a customer)."""
        return []

    def search_kind_guess(self, query: str) -> str:
        """The kind recorded when nothing matched: a guess from the query's shape."""
        return "unmatched"

    def audited_open(
        self, request: HttpRequest, object_id: str, purpose: str, view: Callable[..., HttpResponse], *args: object,
        **detail: object,
    ) -> HttpResponse:
        """Runs `view(request, object_id, *args)` and audits the opening of the record: shown or refused."""
        try:
            response = view(request, object_id, *args)
        except PermissionDenied:
            self._audit_open(request, object_id, AuditEvent.Outcome.DENIED, purpose=purpose, **detail)
            raise
        # A page that shows the record (a GET, or a POST answered with the form again) is a view;
        # a POST that saves redirects, and the service that saved it audits the change.
        if response.status_code == 200:
            self._audit_open(request, object_id, AuditEvent.Outcome.ALLOWED, purpose=purpose, **detail)
        return response

    def _audit_open(self, request: HttpRequest, object_id: str, outcome: str, **detail: object) -> None:
        if outcome == AuditEvent.Outcome.ALLOWED and (customer_ids := self.audit_customer_ids(object_id)):
            detail["customers"] = customer_ids
        audit_record(actor=request.user, action=AuditEvent.Action.VIEW, outcome=outcome,
                     object_type=self.audit_object_type, object_id=object_id[:40],
                     ip_address=request_ip(request), detail=detail)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        return self.audited_open(request, object_id, "admin", super().change_view, form_url, extra_context)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        response = super().changelist_view(request, extra_context)
        query = request.GET.get(SEARCH_VAR, "").strip()
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if query and self.search_kinds and request.method == "GET" and changelist is not None:
            # The page's rows are loaded here and reused by the template: no extra query.
            found = list(changelist.result_list)
            audit_record(
                actor=request.user, action=AuditEvent.Action.VIEW, outcome=AuditEvent.Outcome.ALLOWED,
                object_type=self.audit_object_type, object_id="", ip_address=request_ip(request),
                detail={"purpose": "admin search", "kind": self._search_kind(query, found),
                        "found": [row.pk for row in found]},
            )
        return response

    def _search_kind(self, query: str, found: Iterable[Model]) -> str:
        # The admin matches each whitespace-separated word (or quoted phrase) on its own.
        words = {
            (unescape_string_literal(word) if word[0] in "\"'" and word[-1] == word[0] else word).upper()
            for word in smart_split(query)
        }
        found = list(found)
        for path, kind in self.search_kinds:
            if any(str(_value_at(row, path)).upper() in words for row in found):
                return kind
        if found and self.search_prefix_kind:
            return self.search_prefix_kind
        return self.search_kind_guess(query)


def _value_at(row: Model, path: str) -> object:
    """`row.a.b` for "a__b": the relations on the path are loaded by list_select_related."""
    value: object = row
    for part in path.split("__"):
        value = getattr(value, part, None)
        if value is None:
            return ""
    return value


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """A read-only browser: the table itself refuses UPDATE and DELETE."""

    list_display = ["occurred_at", "actor", "action", "outcome", "object_type", "object_id", "ip_address"]
    list_filter = ["action", "outcome", "object_type", "occurred_at"]
    search_fields = ["=object_id", "=actor__username", "=ip_address"]
    date_hierarchy = "occurred_at"
    list_select_related = ["actor"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False
