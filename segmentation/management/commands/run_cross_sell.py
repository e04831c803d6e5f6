"""`python manage.py run_cross_sell [--sync]`: each customer's next-best product (a cross-sell run)."""

from __future__ import annotations

import datetime

from django.core.management.base import CommandError

from crm_bank.runs.commands import RunCommand
from crm_bank.runs.models import Run
from segmentation.cross_sell import cross_sell_start


class Command(RunCommand):
    help = (
        "Learns product affinities within the published segments and gives every customer a next-best "
        "product with its reason, as of the segmentation run's date. Queued for the Celery workers, or "
        "run here with --sync."
    )

    def start(self, *, as_of: datetime.date | None, sync: bool, options: dict) -> Run:
        if as_of is not None:
            raise CommandError("A cross-sell run is as of the published segmentation's date: leave out --as-of.")
        return cross_sell_start(sync=sync)

    def published(self, run: Run) -> str:
        categories = ", ".join(f"{code} {n:,}" for code, n in sorted(run.metrics["by_category"].items()))
        return f"{run.metrics['customers']:,} customers with a next-best product ({categories}); " \
               f"{run.metrics['rules']:,} rules"
