from __future__ import annotations

from django.contrib import admin

from crm_bank.org.models import Branch, Department, StaffProfile


@admin.register(Branch)
class BranchAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "region", "is_active"]
    list_filter = ["region", "is_active"]
    search_fields = ["code", "name", "region"]


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind"]
    list_filter = ["kind"]
    search_fields = ["code", "name"]


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "employee_number", "role", "branch", "department", "manager"]
    list_filter = ["role", "department", "branch__region"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "employee_number"]
    list_select_related = ["user", "branch", "department", "manager__user"]
    raw_id_fields = ["user", "branch", "manager"]
