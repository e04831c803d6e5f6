"""The tasks are registered under the names the services and the beat schedule use."""

from __future__ import annotations

from django.conf import settings

from crm_bank.celery import app
from crm_bank.runs import services


def test_beat_schedule_runs_the_watchdog_every_minute():
    app.loader.import_default_modules()  # what a worker does at start: autodiscovers tasks.py
    entry = settings.CELERY_BEAT_SCHEDULE["runs-watchdog"]

    assert entry["schedule"] == 60 and entry["task"] in app.tasks
    assert {services.START_TASK, services.CHUNK_TASK, services.FINALIZE_TASK} <= set(app.tasks)
