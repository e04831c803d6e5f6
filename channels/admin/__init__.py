"""The channels app's admin pages, one module per area (each registers its models on import)."""

from __future__ import annotations

from channels.admin import (
    complaints,  # noqa: F401
    interactions,  # noqa: F401
    systems,  # noqa: F401
    work,  # noqa: F401
)
