from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SecurityConfig(AppConfig):
    name = "crm_bank.security"
    label = "security"
    verbose_name = _("Sign-in protection")

    def ready(self) -> None:
        # Connected here, after django-axes (listed earlier in INSTALLED_APPS) has connected its
        # own receivers: the failed-login receiver reads the lockout flag that axes sets.
        from crm_bank.security import checks, receivers  # noqa: F401
