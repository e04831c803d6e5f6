"""Start-up checks for what sign-in protection relies on."""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security)
def sessions_are_in_the_database(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Deactivating a user ends their sessions by deleting rows (services.user_sessions_end)."""
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    if hasattr(store_class, "get_model_class"):
        return []
    return [
        checks.Error(
            "SESSION_ENGINE must keep sessions in the database (db or cached_db).",
            hint="Deactivating a user ends that user's sessions by deleting their database rows.",
            id="security.E001",
        )
    ]


@checks.register(checks.Tags.security)
def audit_trail_kept_a_year(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """The bank keeps its audit trail at least twelve months."""
    if settings.CRM_AUDIT_RETENTION_MONTHS >= 12:
        return []
    return [
        checks.Error(
            f"CRM_AUDIT_RETENTION_MONTHS is {settings.CRM_AUDIT_RETENTION_MONTHS}; the trail is kept at least 12.",
            hint="Set CRM_AUDIT_RETENTION_MONTHS to 12 or more (the default is 84, seven years).",
            id="security.E002",
        )
    ]
