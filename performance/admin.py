from __future__ import annotations

from django.contrib import admin

from crm_bank.audit.admin import ChangesAuditedAdmin
from performance.models import Kpi, KpiTarget


@admin.register(Kpi)
class KpiAdmin(ChangesAuditedAdmin):
    """The KPI model: each KPI names a measure of the fixed registry (performance/measures.py)."""

    audit_object_type = "kpi"
    list_display = ["code", "name", "measure", "unit", "direction", "weight_rm", "weight_branch", "cap", "active",
                    "order"]
    list_editable = ["weight_rm", "weight_branch", "active", "order"]
    list_filter = ["active", "direction", "unit"]
    search_fields = ["code", "name", "name_zh"]


@admin.register(KpiTarget)
class KpiTargetAdmin(admin.ModelAdmin):
    """Read-only: targets are set on the targets page (performance.services), so the four eyes on
    branch targets and the audit trail cannot be bypassed here."""

    list_display = ["kpi", "period", "scope", "rm", "branch", "value", "status", "set_by", "approved_by"]
    list_filter = ["period", "scope", "status", "kpi"]
    list_select_related = ["kpi", "rm", "branch", "set_by", "approved_by"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
