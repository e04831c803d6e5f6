"""Celery tasks of the customers app: thin, each calls one service (schedules seeded by migrations)."""

from __future__ import annotations

from celery import shared_task

from customers import retention
from customers.imports.services import import_files_expire


@shared_task(name="customers.anonymisation_nightly")
def anonymisation_nightly() -> int | None:
    """The nightly retention: uploaded import files not imported within CRM_IMPORT_FILE_DAYS are
    deleted, then the run that anonymises customers who left more than CRM_RETENTION_YEARS ago."""
    import_files_expire()
    return retention.anonymisation_nightly_start()
