"""Admin for complaint SLAs and escalation contacts (edited here, each change audited) and a
read-only view of cases: a case changes only through its services, which write its history."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from channels.models import Complaint, ComplaintEvent, ComplaintSLA, EscalationContact
from crm_bank.audit.admin import AuditedModelAdmin, ChangesAuditedAdmin


@admin.register(ComplaintSLA)
class ComplaintSLAAdmin(ChangesAuditedAdmin):
    audit_object_type = "complaint_sla"
    list_display = ["severity", "resolve_within_hours", "escalation_step_hours"]

    def has_delete_permission(self, request: HttpRequest, obj: ComplaintSLA | None = None) -> bool:
        return False  # every severity needs its SLA


@admin.register(EscalationContact)
class EscalationContactAdmin(ChangesAuditedAdmin):
    audit_object_type = "escalation_contact"
    list_display = ["level", "region", "user"]
    list_filter = ["level"]
    search_fields = ["region", "user__username", "user__last_name"]
    autocomplete_fields = ["user"]


class ComplaintEventInline(admin.TabularInline):
    model = ComplaintEvent
    extra = 0
    can_delete = False
    fields = ["at", "kind", "actor", "from_owner", "to_owner", "level", "status", "note"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False


@admin.register(Complaint)
class ComplaintAdmin(AuditedModelAdmin):
    audit_object_type = "complaint"
    search_kinds = (("customer__cif", "cif"),)
    list_display = ["pk", "customer", "branch", "category", "severity", "status", "level", "owner", "sla_due_at",
                    "sla_breached", "is_skip_level"]
    list_filter = ["status", "severity", "category", "level", "sla_breached", "is_skip_level"]
    search_fields = ["=customer__cif", "=id"]
    list_select_related = ["customer", "branch", "owner"]
    show_full_result_count = False
    inlines = [ComplaintEventInline]

    def audit_customer_ids(self, object_id: str) -> list[int]:
        return list(Complaint.objects.filter(pk=object_id).values_list("customer_id", flat=True)) if \
            object_id.isdigit() else []

    def get_readonly_fields(self, request: HttpRequest, obj: Complaint | None = None) -> list[str]:
        return [field.name for field in Complaint._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Complaint | None = None) -> bool:
        return False
