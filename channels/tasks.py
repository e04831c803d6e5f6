"""Celery tasks of the channels app: thin, each calls one service (schedules in settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from channels.services import complaints as complaint_services
from channels.services import lifecycle as lifecycle_services
from channels.services import work as work_services


@shared_task(name="channels.complaints_escalate")
def complaints_escalate() -> int:
    """Moves every open complaint whose SLA step has ended one level up; returns how many moved."""
    return complaint_services.complaints_escalate_due()


@shared_task(name="channels.kyc_refresh_tasks")
def kyc_refresh_tasks() -> int:
    """Gives RMs a KYC-refresh task for reviews falling due soon; returns how many were created."""
    return work_services.kyc_refresh_tasks_create()


@shared_task(name="channels.lifecycle_nightly")
def lifecycle_nightly() -> int | None:
    """The nightly lifecycle run as of the latest transaction date; returns its id (None if refused)."""
    return lifecycle_services.lifecycle_nightly_start()
