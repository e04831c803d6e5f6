"""Rule segments are edited here too (the model's validator checks the rule). Run results are not:
they are derived rows, shown on the segment page, and runs have their own read-only admin."""

from __future__ import annotations

from django.contrib import admin

from crm_bank.audit.admin import ChangesAuditedAdmin
from segmentation.models import RuleSegment


@admin.register(RuleSegment)
class RuleSegmentAdmin(ChangesAuditedAdmin):
    audit_object_type = "rule_segment"
    list_display = ["name", "name_zh", "rule", "active", "created_by", "updated_at"]
    list_filter = ["active"]
    search_fields = ["name", "name_zh", "rule"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    list_select_related = ["created_by"]
