from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    """Loads the public bank data sets (or a generated bank) as the demo. Sits above every app."""

    name = "demo"
    label = "demo"
    verbose_name = _("Demo data")
