"""`manage.py db_roles`: the owner and app database roles (see crm_bank.audit.dbroles)."""

from __future__ import annotations

import argparse
import os

from django.core.management.base import BaseCommand, CommandError, CommandParser, DjangoHelpFormatter

from crm_bank.audit.dbroles import DbRolesError, db_roles_apply, db_roles_plan, db_roles_problems


class _HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Keeps the line breaks of the help text below."""


class Command(BaseCommand):
    help = """Sets up least-privilege database roles and re-applies their grants; safe to repeat.

OWNER owns the schema, its tables, sequences and functions, and runs migrations. APP (web,
Celery) owns nothing and holds CONNECT, USAGE on the schema, SELECT/INSERT/UPDATE/DELETE on
tables and USAGE/SELECT on sequences; on the audit table only SELECT and INSERT. Default
privileges give the tables that later migrations create (as OWNER) the same grants.

1. As a superuser, on a new database or on one migrated by a superuser so far:
     manage.py db_roles --owner crm_owner --app crm_app
   creates missing roles (passwords from $CRM_DB_OWNER_PASSWORD and $CRM_DB_APP_PASSWORD,
   if set), strips attributes beyond LOGIN, hands every object to OWNER, grants APP its rights.
2. As OWNER, after every migrate:
     manage.py db_roles --owner crm_owner --app crm_app --grants-only
   narrows the audit table again, in case a migration re-created it with the wide default grant.

Everything runs in one transaction and is rolled back if APP could still change the audit
trail afterwards. --sql prints the statements instead; --check only reports problems."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: object) -> CommandParser:
        return super().create_parser(prog_name, subcommand, formatter_class=_HelpFormatter, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--owner", required=True, help="Role that owns the schema and runs migrations.")
        parser.add_argument("--app", required=True, help="Role the application connects as.")
        parser.add_argument("--grants-only", action="store_true",
                            help="Only the grants (no roles, no ownership): what the owner may run itself.")
        parser.add_argument("--sql", action="store_true", help="Print the statements, run nothing.")
        parser.add_argument("--check", action="store_true",
                            help="Run nothing; list what lets APP change the audit trail, exit 1 if anything.")
        parser.add_argument("--owner-password-env", default="CRM_DB_OWNER_PASSWORD", metavar="NAME",
                            help="Environment variable holding OWNER's password (default %(default)s).")
        parser.add_argument("--app-password-env", default="CRM_DB_APP_PASSWORD", metavar="NAME",
                            help="Environment variable holding APP's password (default %(default)s).")
        parser.add_argument("--database", default="default", help="Database alias (default %(default)s).")

    def handle(self, *args: object, **options: object) -> None:
        owner, app, using = options["owner"], options["app"], options["database"]
        try:
            if options["check"]:
                self._report(db_roles_problems(owner=owner, app=app, using=using))
                return
            plan = db_roles_plan(
                owner=owner,
                app=app,
                owner_password=os.environ.get(options["owner_password_env"]) or None,
                app_password=os.environ.get(options["app_password_env"]) or None,
                grants_only=options["grants_only"],
                using=using,
            )
            if options["sql"]:
                self.stdout.write("\n".join(f"{statement.shown};" for statement in plan))
                return
            db_roles_apply(plan=plan, owner=owner, app=app, using=using)
        except ValueError as error:
            raise CommandError(str(error)) from error
        except DbRolesError as error:
            raise CommandError("Rolled back: " + " ".join(error.problems)) from error
        self.stdout.write(f"Roles set up: {owner} owns the schema, {app} holds row rights "
                          f"({len(plan)} statements).")

    def _report(self, problems: list[str]) -> None:
        if problems:
            raise CommandError(" ".join(problems))
        self.stdout.write("No problems found.")
