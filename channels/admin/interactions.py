"""Admin views of the timeline, tasks and churn flags: read-only where a service owns the writes
(interactions are stored only through channels.services.interactions), with the one admin action a
churn flag needs."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy, ngettext

from channels.models import ChurnFlag, Interaction, Task
from channels.services.complaints import churn_flag_clear
from crm_bank.audit.admin import AuditedModelAdmin, ReadOnlyModelAdmin
from crm_bank.ui.paginators import CappedCountPaginator


@admin.register(Interaction)
class InteractionAdmin(AuditedModelAdmin, ReadOnlyModelAdmin):
    audit_object_type = "interaction"
    list_display = ["occurred_at", "customer", "channel", "kind", "direction", "source_system", "source_id"]
    list_filter = ["channel", "kind", "direction", "source_system"]
    # Exact look-ups only: the interaction_source_unique index serves a source id, never a scan.
    search_fields = ["=source_id"]
    search_kinds = (("source_id", "source_id"),)
    list_select_related = ["customer", "source_system"]
    raw_id_fields = ["customer", "staff", "complaint", "product"]
    # Tens of millions of rows: count at most 10,000 ("10,000+"), never the whole table.
    paginator = CappedCountPaginator
    show_full_result_count = False

    def audit_customer_ids(self, object_id: str) -> list[int]:
        return list(Interaction.objects.filter(pk=object_id).values_list("customer_id", flat=True))


@admin.register(Task)
class TaskAdmin(AuditedModelAdmin, ReadOnlyModelAdmin):
    audit_object_type = "task"
    list_display = ["due_at", "assignee", "kind", "title", "status", "customer"]
    list_filter = ["status", "kind"]
    list_select_related = ["assignee", "customer"]
    paginator = CappedCountPaginator
    show_full_result_count = False

    def audit_customer_ids(self, object_id: str) -> list[int]:
        return [pk for pk in Task.objects.filter(pk=object_id).values_list("customer_id", flat=True) if pk]


@admin.register(ChurnFlag)
class ChurnFlagAdmin(AuditedModelAdmin, ReadOnlyModelAdmin):
    audit_object_type = "churn_flag"
    list_display = ["customer", "raised_at", "reason", "cleared_at", "cleared_by"]
    list_filter = ["cleared_at"]
    list_select_related = ["customer", "cleared_by"]
    actions = ["clear_flags"]

    def audit_customer_ids(self, object_id: str) -> list[int]:
        return list(ChurnFlag.objects.filter(pk=object_id).values_list("customer_id", flat=True))

    @admin.action(description=gettext_lazy("Clear the selected churn-risk flags"))
    def clear_flags(self, request: HttpRequest, queryset: QuerySet[ChurnFlag]) -> None:
        cleared = 0
        for flag in queryset.filter(cleared_at__isnull=True).select_related("customer"):
            churn_flag_clear(customer=flag.customer, actor=request.user)
            cleared += 1
        self.message_user(request, ngettext("%(n)d flag cleared.", "%(n)d flags cleared.", cleared) % {"n": cleared},
                          messages.SUCCESS)
