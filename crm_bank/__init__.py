from __future__ import annotations

from crm_bank.celery import app as celery_app

__all__ = ["celery_app"]
