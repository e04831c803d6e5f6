"""Thin Celery tasks of the campaigns app."""

from __future__ import annotations

from celery import shared_task

from campaigns.dashboard import running_campaigns_slow_figures_refresh


@shared_task(name="campaigns.dashboard_figures_refresh")
def dashboard_figures_refresh() -> int:
    """Every minute (beat): the running campaigns' uplift and best and worst branches and segments,
    recomputed for the war rooms; returns how many campaigns."""
    return running_campaigns_slow_figures_refresh()
