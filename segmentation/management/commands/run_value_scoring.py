"""`python manage.py run_value_scoring [--as-of YYYY-MM-DD] [--sync]`: a value-scoring (80/20) run."""

from __future__ import annotations

import datetime
import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm_bank.runs.errors import RunError
from crm_bank.runs.models import Run
from segmentation.services import value_scoring_start


def _date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--as-of must be a date written YYYY-MM-DD, not {text!r}.") from None


class Command(BaseCommand):
    help = (
        "Scores every customer's value and Pareto tier (A/B/C) as of a date (default: the latest transaction "
        "date). Queued for the Celery workers, or run here with --sync."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", help="YYYY-MM-DD; default: the day of the latest transaction")
        parser.add_argument("--sync", action="store_true", help="run in this process instead of the workers")
        parser.add_argument("--chunk-size", type=int, help="customers per chunk (default 20000)")

    def handle(self, *args, as_of: str | None, sync: bool, chunk_size: int | None, **options) -> None:
        params = {"chunk_size": chunk_size} if chunk_size is not None else {}
        try:
            run = value_scoring_start(as_of=_date(as_of) if as_of else None, params=params, sync=sync)
        except RunError as exc:
            raise CommandError(str(exc)) from None
        if not sync:
            self.stdout.write(f"Run #{run.pk} queued as of {run.as_of}; the workers take it from here.")
            return
        if run.status != Run.Status.SUCCEEDED:
            raise CommandError(f"Run #{run.pk} {run.status}: {run.error}")
        self.stdout.write(f"Run #{run.pk} published as of {run.as_of}: {json.dumps(run.metrics, ensure_ascii=False)}")
