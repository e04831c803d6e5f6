"""Admin for the lifecycle rules (edited here, each change audited) and read-only views of book
transfers and lifecycle snapshots: those change only through their services and runs."""

from __future__ import annotations

from django.contrib import admin

from channels.models import BookTransfer, LifecycleRule, LifecycleSnapshot
from crm_bank.audit.admin import ChangesAuditedAdmin, ReadOnlyModelAdmin


@admin.register(LifecycleRule)
class LifecycleRuleAdmin(ChangesAuditedAdmin):
    audit_object_type = "lifecycle_rule"
    list_display = ["priority", "stage", "min_tenure_months", "min_products", "min_months_inactive",
                    "no_open_accounts", "is_active"]
    list_editable = ["is_active"]
    list_display_links = ["priority", "stage"]
    ordering = ["priority"]


@admin.register(BookTransfer)
class BookTransferAdmin(ReadOnlyModelAdmin):
    list_display = ["transferred_at", "branch", "from_rm", "to_rm", "reason", "customers_moved", "transferred_by"]
    list_filter = ["reason", "branch"]
    list_select_related = ["branch", "from_rm", "to_rm", "transferred_by"]
    date_hierarchy = "transferred_at"


@admin.register(LifecycleSnapshot)
class LifecycleSnapshotAdmin(ReadOnlyModelAdmin):
    list_display = ["run", "branch", "from_stage", "stage", "customers"]
    list_filter = ["stage", "branch"]
    list_select_related = ["run", "branch"]
