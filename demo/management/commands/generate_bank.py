"""`manage.py generate_bank`: a synthetic demo bank (see customers.generation and demo.synthetic)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from customers.generation import LIMITS
from demo.synthetic import INTERACTIONS_PER_CUSTOMER, synthetic_bank_generate


def _within(name: str) -> Callable[[str], int]:
    """An argparse type: a whole number inside LIMITS[name], else a usage error naming the range."""
    low, high = LIMITS[name]

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value:,} is outside {low:,}…{high:,}")
        return value

    return parse


class Command(BaseCommand):
    help = ("Generates synthetic customers, holdings, transactions, contacts and their timeline; re-running one "
            "seed writes nothing.")

    def add_arguments(self, parser: CommandParser) -> None:
        def limit(name: str) -> str:
            return "{:,}…{:,}".format(*LIMITS[name])

        parser.add_argument("--customers", type=_within("customers"), required=True,
                            help=f"how many customers ({limit('customers')})")
        parser.add_argument("--transactions-per-customer", type=_within("transactions_per_customer"), required=True,
                            help=f"mean transactions per customer ({limit('transactions_per_customer')})")
        parser.add_argument("--seed", type=_within("seed"), required=True,
                            help=f"same seed, same bank; part of the CIF ({limit('seed')})")
        parser.add_argument("--branches", type=_within("branches"), default=20,
                            help=f"branches G01…, three staff each ({limit('branches')}, default 20)")
        parser.add_argument("--interactions-per-customer", type=_within("interactions_per_customer"),
                            default=INTERACTIONS_PER_CUSTOMER,
                            help="mean timeline contacts of a contacted customer, before the last one "
                                 f"({limit('interactions_per_customer')}, default {INTERACTIONS_PER_CUSTOMER})")

    def handle(self, *args, **options) -> None:
        if not settings.DEMO_PASSWORD:
            self.stderr.write("No DEMO_PASSWORD here: no demo staff, customers get no RM.")
        try:
            figures = synthetic_bank_generate(
                customers=options["customers"],
                transactions_per_customer=options["transactions_per_customer"],
                seed=options["seed"],
                branches=options["branches"],
                interactions_per_customer=options["interactions_per_customer"],
                password=settings.DEMO_PASSWORD,
                log=self._progress,
            )
        except ValueError as error:  # a caller bypassing the parser (call_command with ints)
            raise CommandError(str(error)) from error
        self.stdout.write(json.dumps(figures))

    def _progress(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()  # a long run logged to a file shows its progress as it goes
