"""The Celery app: JSON messages, late acks, one prefetched message per process.

Its settings live in Django settings under the CELERY_ namespace.
"""

from __future__ import annotations

import os

from celery import Celery

# Production unless told otherwise (make run and the tests say which settings they use).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_bank.settings.production")

app = Celery("crm_bank")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="crm_bank.ping")
def ping() -> str:
    """Answers 'pong': lets /healthz and the tests prove a worker takes work."""
    return "pong"
