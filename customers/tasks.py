"""Celery tasks of the customers app: thin, each calls one service (schedules seeded by migrations)."""

from __future__ import annotations

import logging

from celery import shared_task

from customers import retention
from customers.imports.services import import_files_expire

logger = logging.getLogger(__name__)


@shared_task(name="customers.anonymisation_nightly")
def anonymisation_nightly() -> int | None:
    """The nightly retention: the run that anonymises customers who left more than
    CRM_RETENTION_YEARS ago, then the sweep of uploaded import files (not imported within
    CRM_IMPORT_FILE_DAYS, or left behind). A failing sweep never keeps the anonymisation from starting."""
    started = retention.anonymisation_nightly_start()
    try:
        import_files_expire()
    except Exception:
        logger.exception("The nightly sweep of import files failed")
    return started
