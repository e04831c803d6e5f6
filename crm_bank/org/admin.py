from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext, gettext_lazy

from crm_bank.audit.admin import ChangesAuditedAdmin
from crm_bank.audit.services import request_ip
from crm_bank.org.models import Branch, Department, StaffProfile
from crm_bank.org.services import user_deactivate, user_deactivation_refusals


@admin.register(Branch)
class BranchAdmin(ChangesAuditedAdmin):
    audit_object_type = "branch"
    list_display = ["code", "name", "region", "is_active"]
    list_filter = ["region", "is_active"]
    search_fields = ["code", "name", "region"]


@admin.register(Department)
class DepartmentAdmin(ChangesAuditedAdmin):
    audit_object_type = "department"
    list_display = ["code", "name", "kind"]
    list_filter = ["kind"]
    search_fields = ["code", "name"]


@admin.register(StaffProfile)
class StaffProfileAdmin(ChangesAuditedAdmin):
    """A role, branch or manager decides whose customers a member of staff sees in full: audited."""

    audit_object_type = "staff_profile"
    list_display = ["user", "employee_number", "role", "branch", "department", "manager"]
    list_filter = ["role", "department", "branch__region"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "employee_number"]
    list_select_related = ["user", "branch", "department", "manager__user"]
    raw_id_fields = ["user", "branch", "manager"]


class GuardedUserChangeForm(UserChangeForm):
    """Unticking "active" is refused while a deactivation guard objects (an RM with customers)."""

    def clean(self) -> dict:
        cleaned = super().clean()
        was_active = self.instance.pk is not None and self.instance.is_active
        if was_active and cleaned.get("is_active") is False:
            for reason in user_deactivation_refusals(user=self.instance):
                self.add_error("is_active", reason)
        return cleaned


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class GuardedUserAdmin(UserAdmin):
    form = GuardedUserChangeForm
    actions = ["deactivate_users"]

    @admin.action(description=gettext_lazy("Deactivate the selected staff"))
    def deactivate_users(self, request: HttpRequest, queryset: QuerySet) -> None:
        """One at a time through the guarded service: those a guard protects stay active, with the reason."""
        done = 0
        for user in queryset:
            refusals = user_deactivation_refusals(user=user)
            if refusals:
                for reason in refusals:
                    self.message_user(request, reason, messages.ERROR)
                continue
            user_deactivate(user=user, actor=request.user, ip_address=request_ip(request))
            done += 1
        if done:
            self.message_user(request, gettext("%(n)d staff deactivated.") % {"n": done}, messages.SUCCESS)
