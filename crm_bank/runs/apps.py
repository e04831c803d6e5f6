from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RunsConfig(AppConfig):
    name = "crm_bank.runs"
    label = "runs"
    verbose_name = _("Batch runs")
