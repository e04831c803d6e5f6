"""`python manage.py run_segmentation [--as-of YYYY-MM-DD] [--k N] [--seed S] [--sync]`: a segmentation run."""

from __future__ import annotations

import datetime

from django.core.management.base import CommandParser

from crm_bank.runs.commands import RunCommand
from crm_bank.runs.models import Run
from segmentation.models import segment_label
from segmentation.segments import segmentation_start


class Command(RunCommand):
    help = (
        "Segments every customer (k-means learned segments and the analysts' rule segments) as of a date "
        "(default: the latest transaction date). Queued for the Celery workers, or run here with --sync."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--k", type=int, help="number of segments (default: chosen by silhouette, 3 to 8)")
        parser.add_argument("--seed", type=int, help="random seed (default 7): same data and seed, same segments")

    def start(self, *, as_of: datetime.date | None, sync: bool, options: dict) -> Run:
        return segmentation_start(as_of=as_of, k=options.get("k"), seed=options.get("seed"), sync=sync)

    def published(self, run: Run) -> str:
        sizes = ", ".join(
            f"{segment_label(run.metrics['names'][number])}: {size}" for number, size in run.metrics["sizes"].items()
        )
        return f"k = {run.metrics['k']}; {sizes}"
