"""Branches, departments and the staff who work in them, with their role."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Branch(models.Model):
    code = models.CharField(_("code"), max_length=16, unique=True)
    name = models.CharField(_("name"), max_length=120)
    region = models.CharField(_("region"), max_length=120, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("branch")
        verbose_name_plural = _("branches")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Department(models.Model):
    class Kind(models.TextChoices):
        RETAIL = "retail", _("Retail banking")
        CORPORATE = "corporate", _("Corporate banking")
        CARD_CENTRE = "card_centre", _("Card centre")
        CALL_CENTRE = "call_centre", _("Call centre")
        WEALTH = "wealth", _("Wealth management")
        SERVICE_CENTRE = "service_centre", _("Service centre")
        HEAD_OFFICE = "head_office", _("Head office")

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)

    class Meta:
        ordering = ["code"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")

    def __str__(self) -> str:
        return self.name


class StaffProfile(models.Model):
    class Role(models.TextChoices):
        RM = "RM", _("Relationship manager")
        SUPERVISOR = "SUPERVISOR", _("Supervisor")
        ANALYST = "ANALYST", _("Analyst")
        ADMIN = "ADMIN", _("Administrator")
        # Reads the audit trail and the break-the-glass report; changes nothing.
        COMPLIANCE = "COMPLIANCE", _("Compliance officer")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    role = models.CharField(_("role"), max_length=12, choices=Role.choices)
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, null=True, blank=True, related_name="staff",
        verbose_name=_("branch"),
    )
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, null=True, blank=True, related_name="staff",
        verbose_name=_("department"),
    )
    # The person complaints escalate to when this staff member misses an SLA.
    manager = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="reports",
        verbose_name=_("manager"),
    )
    employee_number = models.CharField(_("employee number"), max_length=20, unique=True)

    class Meta:
        verbose_name = _("staff profile")
        verbose_name_plural = _("staff profiles")
        indexes = [
            # Branch roster: "the RMs of branch X", and the RM filter of the customer list by role.
            models.Index(fields=["branch", "role"], name="staff_branch_role_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user.get_username()} ({self.get_role_display()})"

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN
