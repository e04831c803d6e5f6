from __future__ import annotations

from django.contrib.admin.apps import AdminConfig


class BankAdminConfig(AdminConfig):
    """django.contrib.admin with the bank's admin site (administrators only)."""

    default_site = "crm_bank.admin_site.BankAdminSite"
