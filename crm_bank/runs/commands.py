"""The shape every batch job's management command shares: `--as-of`, `--sync`, the run's
refusals as command errors, and a line saying what was queued or published."""

from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm_bank.runs.errors import RunError
from crm_bank.runs.models import Run


def as_of_date(text: str | None) -> datetime.date | None:
    if not text:
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--as-of must be a date written YYYY-MM-DD, not {text!r}.") from None


class RunCommand(BaseCommand):
    """Subclasses add their own options and implement `start` and `published`."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", help="YYYY-MM-DD; default: the day of the latest transaction")
        parser.add_argument("--sync", action="store_true", help="run in this process instead of the workers")

    def start(self, *, as_of: datetime.date | None, sync: bool, options: dict) -> Run:
        raise NotImplementedError

    def published(self, run: Run) -> str:
        """What the published run found, in one line."""
        raise NotImplementedError

    def handle(self, *args, as_of: str | None, sync: bool, **options) -> None:
        try:
            run = self.start(as_of=as_of_date(as_of), sync=sync, options=options)
        except RunError as exc:
            raise CommandError(str(exc)) from None
        if not sync:
            self.stdout.write(f"Run #{run.pk} queued as of {run.as_of}; the workers take it from here.")
            return
        if run.status != Run.Status.SUCCEEDED:
            raise CommandError(f"Run #{run.pk} {run.status}: {run.error}")
        self.stdout.write(f"Run #{run.pk} published as of {run.as_of}: {self.published(run)}")
