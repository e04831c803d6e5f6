"""`python manage.py campaign_contacts_to_timeline`: historic campaign contacts onto the timeline."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from campaigns.timeline import campaign_contacts_to_interactions


class Command(BaseCommand):
    help = ("Writes one campaign-contact interaction per dated campaign contact that has none yet, moves the "
            "customers' last contact forward and counts them in the daily rollup. Safe to run again.")

    def handle(self, *args, **options) -> None:
        started = time.perf_counter()
        written = campaign_contacts_to_interactions()
        self.stdout.write(f"{written:,} campaign contacts written to the timeline in "
                          f"{time.perf_counter() - started:.1f} s.")
