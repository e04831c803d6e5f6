"""`python manage.py demo_logins [--all]`: the demo users that exist in this database."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from demo.logins import demo_logins


class Command(BaseCommand):
    help = "Lists the demo logins that exist: the administrator, then per branch its supervisor and RMs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="every branch (default: the three largest)")

    def handle(self, *args, all: bool, **options) -> None:  # noqa: A002 - the option's name
        logins = demo_logins(branches=None if all else 3)
        if not logins:
            self.stdout.write("No demo users yet: run load_demo first.")
        for branch, usernames in logins:
            self.stdout.write(f"{branch}: {', '.join(usernames)}")
