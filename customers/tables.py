from __future__ import annotations

import django_tables2 as tables
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from customers.models import Customer


class CustomerTable(tables.Table):
    """The bank-wide customer list: only what every staff member may see.

    Cells are written out by the template `customers/_customer_table.html`.
    """

    name = tables.Column(
        verbose_name=_("Name"), accessor="display_name", order_by=("sort_name", "id")
    )
    cif = tables.Column(verbose_name=_("Customer number"))
    # Only indexed orders are offered (a sort over a million rows without an index takes
    # seconds); branch, RM, kind and stage are filters instead.
    kind = tables.Column(verbose_name=_("Kind"), orderable=False)
    home_branch = tables.Column(verbose_name=_("Branch"), orderable=False)
    primary_rm = tables.Column(verbose_name=_("RM"), accessor="rm_name", orderable=False)
    lifecycle_stage = tables.Column(verbose_name=_("Lifecycle"), orderable=False)
    completeness = tables.Column(verbose_name=_("Completeness"), orderable=False)
    last_contact_at = tables.DateTimeColumn(verbose_name=_("Last contact"), format="SHORT_DATE_FORMAT")

    class Meta:
        model = Customer
        fields = ["name", "cif", "kind", "home_branch", "primary_rm", "lifecycle_stage", "completeness",
                  "last_contact_at"]
        attrs = {"class": "table table-sm table-hover align-middle", "id": "customer-table"}
        template_name = "customers/_customer_table.html"
        order_by = ("name",)
        empty_text = _("No customer matches. Check the spelling, or search by ID, phone or account number.")

    def order_last_contact_at(self, queryset: QuerySet[Customer], is_descending: bool) -> tuple[QuerySet, bool]:
        """In the order of contact_recency_at_idx, the indexed copy of the last contact (the customer
        row's own column is not indexed, so that a contact updates it in place); the inner join
        lets PostgreSQL walk that index, and every customer has its copy."""
        order = ("contact_recency__last_contact_at", "id")
        if is_descending:
            order = tuple(f"-{field}" for field in order)
        return queryset.filter(contact_recency__isnull=False).order_by(*order), True
