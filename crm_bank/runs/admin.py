"""Read-only views of runs: they change only through the services (start, publish, watchdog)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from crm_bank.audit.admin import ReadOnlyModelAdmin
from crm_bank.runs.models import CurrentRun, Run, RunChunk


class RunChunkInline(admin.TabularInline):
    model = RunChunk
    fields = ["lo", "hi", "status", "rows", "finished_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Run)
class RunAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "kind", "status", "progress_percent", "as_of", "started_by", "created_at",
                    "started_at", "finished_at", "heartbeat_at"]
    list_filter = ["kind", "status", "created_at"]
    date_hierarchy = "created_at"
    list_select_related = ["started_by"]
    show_full_result_count = False
    inlines = [RunChunkInline]

    @admin.display(description=_("progress %"))
    def progress_percent(self, run: Run) -> int:
        return run.progress


@admin.register(CurrentRun)
class CurrentRunAdmin(ReadOnlyModelAdmin):
    list_display = ["kind", "run", "published_at"]
    list_select_related = ["run"]
