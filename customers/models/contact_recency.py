"""Who was contacted when, in a table of its own so that a contact does not rewrite the customer's
indexes.

Every channel contact advances `Customer.last_contact_at`. Indexed on the customer row, that
column made each contact a non-HOT update of a wide row with twenty indexes: three quarters of an
ingest batch's time at a million customers. The orders that need the column indexed (the customer
list sorted by last contact, the silent top customers of a branch or an RM) read this narrow copy
instead, and the customer row, with room left on its pages (fillfactor, migration 0027), is
updated in place (HOT).

The database keeps the copy in step, whatever writes the customer (ORM, COPY, raw SQL): an
AFTER INSERT statement trigger adds a row per new customer, and an AFTER UPDATE row trigger
follows changes of the last contact, the RM and the home branch (migration 0027). Application
code only reads it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm_bank.org.models import Branch
from customers.models.customer import Customer


class CustomerContactRecency(models.Model):
    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, primary_key=True, related_name="contact_recency",
        verbose_name=_("customer"),
    )
    # Copies of the customer's columns, not relations of their own: no constraint, so the copy
    # never stands in the way of what the customer row allows.
    primary_rm = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, null=True,
        related_name="+", db_index=False, verbose_name=_("relationship manager"),
    )
    home_branch = models.ForeignKey(
        Branch, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", db_index=False,
        verbose_name=_("home branch"),
    )
    last_contact_at = models.DateTimeField(_("last contact"), null=True)

    class Meta:
        verbose_name = _("customer contact recency")
        verbose_name_plural = _("customer contact recency")
        default_permissions = ("view",)
        indexes = [
            # Customer list sorted by last contact (NULLs, never contacted, sort last ascending).
            models.Index(fields=["last_contact_at", "customer"], name="contact_recency_at_idx"),
            # Silent top customers of a branch / of an RM, the longest silent (never contacted)
            # first: the scan walks from the stalest and stops at 20 matches
            # (channels.selectors.work.silent_top_customers).
            models.Index(models.F("home_branch"), models.F("last_contact_at").asc(nulls_first=True),
                         models.F("customer"), name="contact_recency_branch_idx"),
            models.Index(models.F("primary_rm"), models.F("last_contact_at").asc(nulls_first=True),
                         models.F("customer"), name="contact_recency_rm_idx",
                         condition=models.Q(primary_rm__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.last_contact_at or '—'}"
