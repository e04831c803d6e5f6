"""`python manage.py run_anonymisation [--as-of YYYY-MM-DD] [--sync]`: the retention run."""

from __future__ import annotations

import datetime
import json

from crm_bank.runs.commands import RunCommand
from crm_bank.runs.models import Run
from customers.retention import anonymisation_run_start


class Command(RunCommand):
    help = (
        "Anonymises the customers whose relationship closed more than CRM_RETENTION_YEARS (default 5) before the "
        "as-of date (default today): names, IDs, contact details, source payloads, history and free text are erased; "
        "aggregates and the audit trail stay. Queued for the Celery workers, or run here with --sync."
    )

    def start(self, *, as_of: datetime.date | None, sync: bool, options: dict) -> Run:
        return anonymisation_run_start(as_of=as_of, sync=sync)

    def published(self, run: Run) -> str:
        return json.dumps({key: run.metrics[key] for key in ("anonymised", "closed_before") if key in run.metrics})
