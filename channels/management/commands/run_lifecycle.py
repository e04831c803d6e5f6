"""`python manage.py run_lifecycle [--as-of YYYY-MM-DD] [--sync]`: a customer lifecycle run."""

from __future__ import annotations

import datetime
import json

from django.core.management.base import CommandParser

from channels.services.lifecycle import lifecycle_run_start
from crm_bank.runs.commands import RunCommand
from crm_bank.runs.models import Run


class Command(RunCommand):
    help = (
        "Recomputes every customer's lifecycle stage (prospect, customer, loyal, dormant, closed) by the lifecycle "
        "rules as of a date (default: the latest transaction date) and records the funnel per branch. Queued for "
        "the Celery workers, or run here with --sync."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--chunk-size", type=int, help="customers per chunk (default 50000)")

    def start(self, *, as_of: datetime.date | None, sync: bool, options: dict) -> Run:
        chunk_size = options.get("chunk_size")
        params = {"chunk_size": chunk_size} if chunk_size is not None else {}
        return lifecycle_run_start(as_of=as_of, params=params, sync=sync)

    def published(self, run: Run) -> str:
        shown = ("customers", "stages", "moves", "moved")
        return json.dumps({key: run.metrics[key] for key in shown if key in run.metrics}, ensure_ascii=False)
