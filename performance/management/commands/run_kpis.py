"""`python manage.py run_kpis --period 2026-11 [--sync]`: one period's KPI run."""

from __future__ import annotations

import datetime

from django.core.management.base import CommandError, CommandParser

from crm_bank.runs.commands import RunCommand
from crm_bank.runs.models import Run
from performance.runs import kpi_run_start


class Command(RunCommand):
    help = (
        "Computes every active KPI for every RM and branch for a period (a month such as 2026-11 or a quarter "
        "such as 2026-Q4), scores and ranks them. Queued for the Celery workers, or run here with --sync."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--period", required=True, help="2026-11 (a month) or 2026-Q4 (a quarter)")

    def start(self, *, as_of: datetime.date | None, sync: bool, options: dict) -> Run:
        if as_of is not None:
            raise CommandError("A KPI run is as of its period's last day: give --period, not --as-of.")
        return kpi_run_start(period=options["period"], sync=sync)

    def published(self, run: Run) -> str:
        m = run.metrics
        return (f"period {m['period']}: {m['kpis']} KPIs for {m['rms']} RMs and {m['branches']} branches, "
                f"{m['with_target']} figures with a target, {m['scored']} scored")
