from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        # The customer import's run kind (crm_bank.runs): a batch committed as one chunk.
        from crm_bank.runs.registry import register
        from customers.duplicates import DUPLICATE_SEARCH_KIND
        from customers.imports.apply import ROW_MATCHERS
        from customers.imports.matching import import_rows_match
        from customers.imports.services import CUSTOMER_IMPORT_KIND

        register(CUSTOMER_IMPORT_KIND)
        if import_rows_match not in ROW_MATCHERS:
            ROW_MATCHERS.append(import_rows_match)
        register(DUPLICATE_SEARCH_KIND)
        # The retention run that anonymises customers who left more than CRM_RETENTION_YEARS ago.
        from customers.retention import ANONYMISATION_KIND

        register(ANONYMISATION_KIND)
