"""Puts the signed-in user's staff profile and role-based navigation into every page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from crm_bank.org.models import StaffProfile
from crm_bank.org.selectors import staff_profile_for_user
from crm_bank.ui.links import fixed_url

Role = StaffProfile.Role

_NAVIGATION = {
    Role.RM: [
        (_("My book"), "customers:my-book"),
        (_("Customers"), "customers:customer-list"),
        (_("Campaign calls"), "campaigns:queue"),
        (_("Campaigns"), "campaigns:index"),
        (_("Tasks"), "channels:tasks"),
        (_("My scorecard"), "performance:index"),
    ],
    Role.SUPERVISOR: [
        (_("Branch dashboard"), "customers:branch-dashboard"),
        (_("Customers"), "customers:customer-list"),
        (_("Campaigns"), "campaigns:index"),
        (_("Campaign approvals"), "campaigns:approvals"),
        (_("Complaints"), "channels:complaint-queue"),
        (_("Channel analytics"), "channels:analytics"),
        (_("Channels"), "channels:index"),
        (_("Branch today"), "performance:home"),
        (_("Performance"), "performance:index"),
        (_("Review queue"), "customers:review-queue"),
        (_("Imports"), "customers:import-upload"),
        (_("Data quality"), "customers:data-quality"),
        (_("Unmasked records"), "customers:unmask-report"),
    ],
    Role.ANALYST: [
        (_("Customers"), "customers:customer-list"),
        (_("Segmentation"), "segmentation:index"),
        (_("Value (80/20)"), "segmentation:value"),
        (_("Models"), "segmentation:models"),
        (_("Campaigns"), "campaigns:index"),
        (_("Channel analytics"), "channels:analytics"),
        (_("Performance"), "performance:index"),
    ],
    Role.ADMIN: [
        (_("Branch dashboard"), "customers:branch-dashboard"),
        (_("Customers"), "customers:customer-list"),
        (_("Segmentation"), "segmentation:index"),
        (_("Value (80/20)"), "segmentation:value"),
        (_("Models"), "segmentation:models"),
        (_("Campaigns"), "campaigns:index"),
        (_("Campaign approvals"), "campaigns:approvals"),
        (_("Performance"), "performance:index"),
        (_("Complaints"), "channels:complaint-queue"),
        (_("Channel analytics"), "channels:analytics"),
        (_("Channels"), "channels:index"),
        (_("Review queue"), "customers:review-queue"),
        (_("Imports"), "customers:import-upload"),
        (_("Data quality"), "customers:data-quality"),
        (_("Audit trail"), "audit:search"),
        (_("Unmasked records"), "customers:unmask-report"),
        (_("Django admin"), "admin:index"),
    ],
    Role.COMPLIANCE: [
        (_("Audit trail"), "audit:search"),
        (_("Unmasked records"), "customers:unmask-report"),
        (_("Customers"), "customers:customer-list"),
    ],
}


def staff_navigation(request: HttpRequest) -> dict:
    profile = staff_profile_for_user(request.user)
    if profile is None:
        return {"staff": None, "navigation": []}
    items = [(label, fixed_url(url_name)) for label, url_name in _NAVIGATION[profile.role]]
    two_factor_roles = settings.CRM_TWO_FACTOR_ROLES if settings.CRM_TWO_FACTOR else []
    return {"staff": profile, "navigation": items, "two_factor_roles": two_factor_roles}
