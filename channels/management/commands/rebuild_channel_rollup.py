"""`python manage.py rebuild_channel_rollup [--since DATE]`: recompute the daily interaction counts."""

from __future__ import annotations

import argparse
import datetime
import time

from django.core.management.base import BaseCommand, CommandParser

from channels.services.rollup import interaction_daily_counts_rebuild


def _day(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = ("Recomputes the daily interaction counts the channel analytics read, from the interactions "
            "themselves: after a bulk load that bypassed the storing service, or to repair them.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", type=_day, help="rebuild only this day (YYYY-MM-DD, bank time zone) "
                                                       "and later; default: every day")

    def handle(self, *args, since: datetime.date | None, **options) -> None:
        started = time.perf_counter()
        rows = interaction_daily_counts_rebuild(since=since)
        scope = f"from {since.isoformat()}" if since else "for every day"
        self.stdout.write(f"Daily interaction counts rebuilt {scope}: {rows:,} rows in "
                          f"{time.perf_counter() - started:.1f} s.")
