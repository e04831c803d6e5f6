from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from crm_bank.audit.models import AuditEvent


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
