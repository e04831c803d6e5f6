"""Pages of the channels app (see channels/views/__init__.py)."""

from __future__ import annotations

urlpatterns: list = []
