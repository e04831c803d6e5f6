"""The Django admin is for bank administrators only: `is_staff` alone does not open it."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from crm_bank.org.models import StaffProfile
from crm_bank.org.selectors import staff_profile_for_user


class BankAdminSite(admin.AdminSite):
    site_header = "Branch CRM administration"

    def has_permission(self, request: HttpRequest) -> bool:
        profile = staff_profile_for_user(request.user)
        return super().has_permission(request) and profile is not None and profile.role == StaffProfile.Role.ADMIN
