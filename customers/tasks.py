"""Celery tasks of the customers app: thin, each calls one service (schedules seeded by migrations)."""

from __future__ import annotations

from celery import shared_task

from customers import retention


@shared_task(name="customers.anonymisation_nightly")
def anonymisation_nightly() -> int | None:
    """The nightly retention run: anonymises customers who left more than CRM_RETENTION_YEARS ago."""
    return retention.anonymisation_nightly_start()
