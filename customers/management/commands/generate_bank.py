"""`manage.py generate_bank`: a synthetic demo bank (see customers.generation)."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from customers.generation import bank_generate


class Command(BaseCommand):
    help = "Generates synthetic customers, holdings and transactions; re-running with one seed writes nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, required=True)
        parser.add_argument("--transactions-per-customer", type=int, required=True)
        parser.add_argument("--seed", type=int, required=True)
        parser.add_argument("--branches", type=int, default=20)

    def handle(self, *args, **options) -> None:
        if not settings.DEMO_PASSWORD:
            self.stderr.write("No DEMO_PASSWORD here: no demo staff, customers get no RM.")
        figures = bank_generate(
            customers=options["customers"],
            transactions_per_customer=options["transactions_per_customer"],
            seed=options["seed"],
            branches=options["branches"],
            password=settings.DEMO_PASSWORD,
            log=self._progress,
        )
        self.stdout.write(json.dumps(figures))

    def _progress(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()  # a long run logged to a file shows its progress as it goes
