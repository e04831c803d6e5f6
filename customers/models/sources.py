"""The rows source systems sent about a customer, kept as they came."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from crm_bank.org.models import Department
from customers.models.customer import Customer


class SourceRecord(models.Model):
    """One row a source system sent about a customer, kept as it came."""

    class System(models.TextChoices):
        PKDD_CORE = "pkdd_core", _("Core banking (PKDD'99 client file)")
        UCI_TELEMARKETING = "uci_tm", _("Telemarketing (UCI Bank Marketing)")
        SYNTHETIC = "synthetic", _("Synthetic demo bank")
        BRANCH_ENTRY = "branch", _("Entered at a branch")

    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="source_records", verbose_name=_("customer"),
        db_index=False,
    )
    system = models.CharField(_("source system"), max_length=12, choices=System.choices)
    external_id = models.CharField(_("ID in the source system"), max_length=64)
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("department")
    )
    payload = models.JSONField(_("payload as received"), default=dict)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)

    class Meta:
        verbose_name = _("source record")
        verbose_name_plural = _("source records")
        constraints = [
            # Loading the same source row twice changes nothing.
            models.UniqueConstraint(fields=["system", "external_id"], name="source_record_unique"),
        ]
        indexes = [
            # 360° page "sources" line and merge review: a customer's source rows.
            models.Index(fields=["customer"], name="source_record_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_system_display()} #{self.external_id}"
