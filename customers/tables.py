from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import django_tables2 as tables
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from crm_bank.ui.labels import ChoiceLabels
from crm_bank.ui.templatetags.crm_format import lifecycle_badge, short_date
from customers.models import Customer


class CustomerTable(tables.Table):
    """The bank-wide customer list: only what every staff member may see.

    Cells are written out by the template `customers/_customer_table.html` from
    `customer_list_rows`.
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

    def page_rows(self) -> list[CustomerListRow]:
        """The current page's cells (the table must have been paginated)."""
        return customer_list_rows(row.record for row in self.paginated_rows)

    def order_last_contact_at(self, queryset: QuerySet[Customer], is_descending: bool) -> tuple[QuerySet, bool]:
        """In the order of contact_recency_at_idx, the indexed copy of the last contact (the customer
        row's own column is not indexed, so that a contact updates it in place); the inner join
        lets PostgreSQL walk that index, and every customer has its copy."""
        order = ("contact_recency__last_contact_at", "id")
        if is_descending:
            order = tuple(f"-{field}" for field in order)
        return queryset.filter(contact_recency__isnull=False).order_by(*order), True


_KIND = ChoiceLabels(Customer.Kind.choices)
_STAGE = ChoiceLabels(Customer.Lifecycle.choices)


@dataclass(frozen=True, slots=True)
class CustomerListRow:
    """One customer of the list, ready to print: labels translated, the date in the reader's format."""

    url: str
    name: str
    cif: str
    kind: str
    branch: str
    rm: str
    stage: str
    stage_badge: str
    completeness: int
    incomplete: bool
    last_contact: str


def customer_list_rows(customers: Iterable[Customer]) -> list[CustomerListRow]:
    """The list's cells for a page of customers. Each choice label is translated once per language
    (ChoiceLabels), not once a cell (a template's `get_FOO_display` per row was a good share of the page)."""
    kinds, stages = _KIND.current(), _STAGE.current()
    return [
        CustomerListRow(
            url=customer.get_absolute_url(), name=customer.display_name,
            cif=customer.cif, kind=kinds.get(customer.kind, customer.kind), branch=str(customer.home_branch),
            rm=customer.rm_name or "—", stage=stages.get(customer.lifecycle_stage, customer.lifecycle_stage),
            stage_badge=lifecycle_badge(customer.lifecycle_stage), completeness=customer.completeness,
            incomplete=customer.is_incomplete, last_contact=short_date(customer.last_contact_at) or "—",
        )
        for customer in customers
    ]
