"""Rule segments are edited here too (the validator checks the rule); run results are read-only."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from segmentation.models import LearnedSegment, RuleSegment


@admin.register(RuleSegment)
class RuleSegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "name_zh", "rule", "active", "created_by", "updated_at"]
    list_filter = ["active"]
    search_fields = ["name", "name_zh", "rule"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    list_select_related = ["created_by"]


@admin.register(LearnedSegment)
class LearnedSegmentAdmin(admin.ModelAdmin):
    list_display = ["run", "number", "name", "size"]
    list_filter = ["run__kind"]
    list_select_related = ["run"]
    readonly_fields = ["run", "number", "name", "size", "profile", "centroid"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
