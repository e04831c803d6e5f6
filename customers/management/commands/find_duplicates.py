"""`python manage.py find_duplicates [--chunk-size N] [--sync]`: a find-duplicates run over every
live customer; its pairs go to the supervisors' review queue."""

from __future__ import annotations

import datetime

from django.core.management.base import CommandParser

from crm_bank.runs.commands import RunCommand
from crm_bank.runs.models import Run
from customers.duplicates import duplicate_search_start


class Command(RunCommand):
    help = (
        "Looks for duplicate customers among the golden records (blocked by birth year, postcode, national ID, "
        "phone and e-mail, so never all pairs) and puts the likely pairs in the review queue. Queued for the "
        "Celery workers, or run here with --sync."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--chunk-size", type=int, help="customers per chunk (default 20000)")

    def start(self, *, as_of: datetime.date | None, sync: bool, options: dict) -> Run:
        chunk_size = options.get("chunk_size")
        return duplicate_search_start(params={"chunk_size": chunk_size} if chunk_size else None, sync=sync)

    def published(self, run: Run) -> str:
        metrics = run.metrics
        return (
            f"{metrics['customers']} customers, {metrics['pairs_compared']} pairs compared; "
            f"{metrics['pairs']['review']} to review, {metrics['pairs']['auto_merge']} to merge automatically "
            f"({metrics['ownership_conflicts']} with different RMs), {metrics['merged']} merged"
        )
