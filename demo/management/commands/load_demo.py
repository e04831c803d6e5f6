"""`python manage.py load_demo [--data DIR] [--sample N] [--skip-if-loaded]`."""

from __future__ import annotations

import argparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.files import DemoDataError
from demo.loader import dataset_folder, demo_is_loaded, demo_load

FALLBACK_CUSTOMERS = 2_000
FALLBACK_TRANSACTIONS_PER_CUSTOMER = 20


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:  # 0 or a negative N would silently mean "everything" or "all but N"
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


class Command(BaseCommand):
    help = "Loads the PKDD'99 and UCI Bank Marketing data sets as the demo bank (or a generated bank)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data", help="folder holding berka_pkdd99/ and bank_marketing_uci/ (default: "
                                           "$CRM_DATASETS, else ../shared/datasets; only the default may be absent)")
        parser.add_argument("--sample", type=_positive, help="load only the first N accounts / campaign rows")
        parser.add_argument("--skip-if-loaded", action="store_true", help="do nothing when customers exist")

    def handle(self, *args, data: str | None, sample: int | None, skip_if_loaded: bool, **options) -> None:
        if not settings.DEMO_PASSWORD:
            raise CommandError("DEMO_PASSWORD is not set: demo data is for local settings only.")
        if skip_if_loaded and demo_is_loaded():
            self.stdout.write("Demo data already loaded; nothing to do.")
            return
        try:
            folder = dataset_folder(data)
            if folder is None:
                self._generate_instead(sample)
                return
            report = demo_load(folder=folder, password=settings.DEMO_PASSWORD, sample=sample, log=self.stdout.write)
        except DemoDataError as error:
            raise CommandError(f"{error}. Nothing was loaded.") from error
        for note in report.skipped:
            self.stdout.write(f"{note}; nothing to do for it.")
        for table, count in report.rows.items():
            self.stdout.write(f"  {table}: {count:,} rows")
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded in {report.seconds:.1f} s."))

    def _generate_instead(self, sample: int | None) -> None:
        from demo.synthetic import synthetic_bank_generate

        self.stdout.write(self.style.WARNING(
            f"The public data sets are not at {settings.CRM_DATASETS} (see README: where to get them). "
            f"Building a synthetic demo bank instead."
        ))
        figures = synthetic_bank_generate(
            customers=min(sample or FALLBACK_CUSTOMERS, FALLBACK_CUSTOMERS),
            transactions_per_customer=FALLBACK_TRANSACTIONS_PER_CUSTOMER,
            seed=1, password=settings.DEMO_PASSWORD, log=self.stdout.write,
        )
        self.stdout.write(self.style.SUCCESS(f"Synthetic demo bank generated: {figures}"))
