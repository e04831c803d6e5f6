from __future__ import annotations

from django.apps import AppConfig


class UiConfig(AppConfig):
    """Template tags shared by every page: money, badges, masked values."""

    name = "crm_bank.ui"
    label = "ui"
