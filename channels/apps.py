from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsConfig(AppConfig):
    name = "channels"
    verbose_name = _("Channels")

    def ready(self) -> None:
        # The modules that act on newly stored interactions register their hooks on import
        # (channels.services.interactions.interactions_after_store).
        from channels.services import complaints, work  # noqa: F401
