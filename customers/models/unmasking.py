"""Break the glass: a member of staff outside a customer's branch sees the masked fields in full,
for a reason they state, for a limited time; every grant is audited and reported to supervisors."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from customers.models.customer import Customer


class UnmaskGrant(models.Model):
    class Reason(models.TextChoices):
        CUSTOMER_PRESENT = "present", _("The customer is at my counter")
        CUSTOMER_ON_CALL = "on_call", _("The customer is on the phone with me")
        COMPLAINT = "complaint", _("Investigating the customer's complaint")
        FRAUD = "fraud", _("Fraud or anti-money-laundering check")
        OTHER = "other", _("Other (explained below)")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("staff member")
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="unmask_grants", verbose_name=_("customer")
    )
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices)
    explanation = models.TextField(_("explanation"))
    granted_at = models.DateTimeField(_("granted at"))
    expires_at = models.DateTimeField(_("expires at"))
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        ordering = ["-granted_at", "-id"]
        verbose_name = _("unmasking")
        verbose_name_plural = _("unmaskings")
        indexes = [
            # "Has this user an open grant for this customer?" on every masked 360° view.
            models.Index(fields=["user", "customer", "-expires_at"], name="unmask_user_customer_idx"),
            # The supervisors' report and the daily limit: newest first.
            models.Index(fields=["-granted_at"], name="unmask_granted_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.customer_id} until {self.expires_at:%Y-%m-%d %H:%M}"
