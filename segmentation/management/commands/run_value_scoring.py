"""`python manage.py run_value_scoring [--as-of YYYY-MM-DD] [--sync]`: a value-scoring (80/20) run."""

from __future__ import annotations

import datetime
import json

from django.core.management.base import CommandParser

from crm_bank.runs.commands import RunCommand
from crm_bank.runs.models import Run
from segmentation.services import value_scoring_start


class Command(RunCommand):
    help = (
        "Scores every customer's value and Pareto tier (A/B/C) as of a date (default: the latest transaction "
        "date). Queued for the Celery workers, or run here with --sync."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--chunk-size", type=int, help="customers per chunk (default 20000)")

    def start(self, *, as_of: datetime.date | None, sync: bool, options: dict) -> Run:
        chunk_size = options.get("chunk_size")
        params = {"chunk_size": chunk_size} if chunk_size is not None else {}
        return value_scoring_start(as_of=as_of, params=params, sync=sync)

    def published(self, run: Run) -> str:
        # The figures a reader checks; the Lorenz points and the rest are on the Value page.
        shown = ("customers", "value_total", "top20_share", "gini", "tier_counts", "tier_value_shares", "movers")
        summary = {key: run.metrics[key] for key in shown if key in run.metrics}
        return json.dumps({**summary, "currency": run.params.get("currency")}, ensure_ascii=False)
