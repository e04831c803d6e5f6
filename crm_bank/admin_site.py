"""The Django admin is for bank administrators only (`is_staff` alone does not open it), and every
add, change and delete made in it lands in the audit trail, whichever app's admin made it."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_records, request_ip
from crm_bank.org.models import StaffProfile
from crm_bank.org.selectors import staff_profile_for_user


class AuditedAdminWrites(admin.ModelAdmin):
    """Audits the admin's writes where the admin logs them itself (its `log_*` hooks): an add or a
    change after it is saved, a deletion (one record or a bulk "delete selected") before it is made,
    inside the same transaction. The audit row names the fields changed, never their values: a value
    may be a password or an authenticator's key. An admin whose saves are already audited with more
    detail (ChangesAuditedAdmin, or a save through an audited service) says `audits_its_saves`."""

    audit_object_type = ""
    audits_its_saves = False

    def log_addition(self, request: HttpRequest, obj: Model, message: object) -> object:
        entry = super().log_addition(request, obj, message)
        if not self.audits_its_saves:
            self._audit_write(request, AuditEvent.Action.CREATE, [obj], message)
        return entry

    def log_change(self, request: HttpRequest, obj: Model, message: object) -> object:
        entry = super().log_change(request, obj, message)
        if not self.audits_its_saves:
            self._audit_write(request, AuditEvent.Action.CHANGE, [obj], message)
        return entry

    def log_deletions(self, request: HttpRequest, queryset: Iterable[Model]) -> object:
        self._audit_write(request, AuditEvent.Action.DELETE, queryset, None)
        return super().log_deletions(request, queryset)

    def _audit_write(self, request: HttpRequest, action: str, objects: Iterable[Model], message: object) -> None:
        audit_records(actor=request.user, action=action, object_type=self.audit_object_type or self.opts.label_lower,
                      object_ids=[obj.pk for obj in objects], ip_address=request_ip(request),
                      detail={"admin": message} if message else {})


class BankAdminSite(admin.AdminSite):
    site_header = "Branch CRM administration"

    def has_permission(self, request: HttpRequest) -> bool:
        profile = staff_profile_for_user(request.user)
        return super().has_permission(request) and profile is not None and profile.role == StaffProfile.Role.ADMIN

    def register(self, model_or_iterable, admin_class=None, **options) -> None:
        """Every admin registered here audits its writes: the project's, Django's (users, groups) and
        the installed apps' (schedules, authenticators, lockouts), so none can be added unaudited."""
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, AuditedAdminWrites):
            # The admin's own class first: its attributes (audits_its_saves, audit_object_type) win.
            admin_class = type(admin_class.__name__, (admin_class, AuditedAdminWrites),
                               {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__})
        super().register(model_or_iterable, admin_class, **options)
