"""The channel ingest API (Django REST framework), mounted at /api/ by the root URLconf."""

from __future__ import annotations

urlpatterns: list = []
