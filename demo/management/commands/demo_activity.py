"""`python manage.py demo_activity [--skip-if-present]`: the demo bank's last months of generated
activity (campaigns, RM contacts, complaints, targets) and their KPI runs (demo.activity)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.activity import demo_activity_generate, demo_activity_present


class Command(BaseCommand):
    help = ("Generates the demo bank's last months of RM activity, campaigns, complaints and targets, and runs "
            "their KPIs.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--skip-if-present", action="store_true", help="do nothing when it was generated before")

    def handle(self, *args, skip_if_present: bool, **options) -> None:
        if not settings.DEMO_PASSWORD:
            raise CommandError("DEMO_PASSWORD is not set: demo activity is for local settings only.")
        if demo_activity_present():
            if skip_if_present:
                self.stdout.write("Demo activity already generated; nothing to do.")
                return
            raise CommandError("Demo activity was generated before (campaigns DEMO-…): nothing was written.")
        from customers.models import Customer

        if not Customer.objects.filter(primary_rm__isnull=False).exists():
            raise CommandError("No customers with an RM: load the demo data first (load_demo).")
        report = demo_activity_generate(log=self.stdout.write)
        self.stdout.write(self.style.SUCCESS(
            f"Demo activity for {', '.join(report.months)}: {report.contacts:,} campaign contacts, "
            f"{report.interactions:,} interactions, {report.complaints:,} complaints, {report.targets:,} targets; "
            f"KPI runs {', '.join(f'#{run}' for run in report.kpi_runs)}."))
