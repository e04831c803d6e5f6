"""Celery tasks of the channels app: thin, each calls one service (schedules in settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from channels.services import complaints as complaint_services
from channels.services import work as work_services


@shared_task(name="channels.complaints_escalate")
def complaints_escalate() -> int:
    """Moves every open complaint whose SLA step has ended one level up; returns how many moved."""
    return complaint_services.complaints_escalate_due()


@shared_task(name="channels.kyc_refresh_tasks")
def kyc_refresh_tasks() -> int:
    """Gives RMs a KYC-refresh task for reviews falling due soon; returns how many were created."""
    return work_services.kyc_refresh_tasks_create()
