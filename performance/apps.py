from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PerformanceConfig(AppConfig):
    name = "performance"
    verbose_name = _("Performance")

    def ready(self) -> None:
        # The KPI run, supplied to the batch-run framework (crm_bank.runs).
        from crm_bank.runs.registry import register
        from performance.runs import KPI_RUN_KIND

        register(KPI_RUN_KIND)
