"""`python manage.py run_segmentation [--as-of YYYY-MM-DD] [--k N] [--seed S] [--sync]`: a segmentation run."""

from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm_bank.runs.errors import RunError
from crm_bank.runs.models import Run
from segmentation.segments import segmentation_start


def _date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--as-of must be a date written YYYY-MM-DD, not {text!r}.") from None


class Command(BaseCommand):
    help = (
        "Segments every customer (k-means learned segments and the analysts' rule segments) as of a date "
        "(default: the latest transaction date). Queued for the Celery workers, or run here with --sync."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", help="YYYY-MM-DD; default: the day of the latest transaction")
        parser.add_argument("--k", type=int, help="number of segments (default: chosen by silhouette, 3 to 8)")
        parser.add_argument("--seed", type=int, help="random seed (default 7): same data and seed, same segments")
        parser.add_argument("--sync", action="store_true", help="run in this process instead of the workers")

    def handle(self, *args, as_of: str | None, k: int | None, seed: int | None, sync: bool, **options) -> None:
        try:
            run = segmentation_start(as_of=_date(as_of) if as_of else None, k=k, seed=seed, sync=sync)
        except RunError as exc:
            raise CommandError(str(exc)) from None
        if not sync:
            self.stdout.write(f"Run #{run.pk} queued as of {run.as_of}; the workers take it from here.")
            return
        if run.status != Run.Status.SUCCEEDED:
            raise CommandError(f"Run #{run.pk} {run.status}: {run.error}")
        sizes = ", ".join(
            f"{run.metrics['names'][number]} ({size})" for number, size in run.metrics["sizes"].items()
        )
        self.stdout.write(f"Run #{run.pk} published as of {run.as_of}: k = {run.metrics['k']}; {sizes}")
