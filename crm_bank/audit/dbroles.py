"""Least-privilege database roles, so that the audit trail holds against the application itself.

Two roles: the OWNER owns the schema and every table and runs migrations; the APP role, which
web and Celery connect as, owns nothing and may only read and write rows. On the audit table it
may only read and insert, and without ownership it cannot disable or drop the append-only
triggers either (migration audit 0003). A plan is the SQL that brings one database to that
state from wherever it is; every statement is safe to repeat.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from django.db import connections, transaction
from django.db.backends.utils import CursorWrapper
from psycopg import sql

from crm_bank.audit.models import AuditEvent

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
APP_TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
# Tables the application reads and appends to, nothing more.
APPEND_ONLY_TABLES = (AuditEvent._meta.db_table,)
# The triggers of migration audit 0003; a disabled one is reported by db_roles_problems.
APPEND_ONLY_TRIGGERS = ("audit_event_append_only", "audit_event_no_truncate")
# Neither role may hold more than LOGIN among the role attributes.
_ROLE_ATTRIBUTES = {
    "rolcanlogin": "LOGIN", "rolsuper": "NOSUPERUSER", "rolcreatedb": "NOCREATEDB",
    "rolcreaterole": "NOCREATEROLE", "rolreplication": "NOREPLICATION", "rolbypassrls": "NOBYPASSRLS",
}
Quote = Callable[..., str]  # fills a template's {} with quoted identifiers
_RELATION_KINDS = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW",
                   "S": "SEQUENCE", "f": "FOREIGN TABLE"}


class DbRolesError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Statement:
    sql: str
    shown: str  # the same SQL with any password blanked out, for printing


def db_roles_plan(
    *,
    owner: str,
    app: str,
    owner_password: str | None = None,
    app_password: str | None = None,
    grants_only: bool = False,
    using: str = "default",
) -> list[Statement]:
    """The SQL that sets up both roles on the database behind `using`.

    1. Roles (skipped with grants_only): create the missing ones, strip any attribute beyond
       LOGIN, set passwords that were given, cut any direct membership of app in owner.
    2. Ownership (skipped with grants_only): CONNECT for both, then the schema, its tables,
       views, sequences and functions move to the owner. This hands an existing database,
       migrated by a superuser, to the owner role; it needs a superuser.
    3. Grants (always; the owner may run this part alone after each migrate): row rights on
       every table and sequence, default privileges for the tables later migrations create, and
       the narrow grant on the append-only tables re-applied last, since a migration that
       re-creates one of them gets the wide default grant.
    """
    _check_names(owner=owner, app=app)
    connection = connections[using]
    connection.ensure_connection()
    raw = connection.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_database(), current_schema()")
        current_user, database, schema = cursor.fetchone()
        if app == current_user:
            raise ValueError(f"Run this as a superuser or as the owner role, not as the app role {app}.")

        def q(template: str, *identifiers: str) -> str:
            return sql.SQL(template).format(*map(sql.Identifier, identifiers)).as_string(raw)

        plan: list[Statement] = []
        if not grants_only:
            for role, password in ((owner, owner_password), (app, app_password)):
                plan += _role_statements(cursor, raw, q, role=role, password=password)
            cursor.execute(
                "SELECT 1 FROM pg_auth_members WHERE roleid = to_regrole(%s) AND member = to_regrole(%s)",
                [owner, app],
            )
            if cursor.fetchone():
                plan.append(_plain(q("REVOKE {} FROM {}", owner, app)))
            plan.append(_plain(q("GRANT CONNECT ON DATABASE {} TO {}, {}", database, owner, app)))
            plan += _ownership_statements(cursor, q, schema=schema, owner=owner)

        plan += [
            _plain(q("REVOKE CREATE ON SCHEMA {} FROM PUBLIC", schema)),
            _plain(q("GRANT USAGE ON SCHEMA {} TO {}", schema, app)),
            _plain(q("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}", schema, app)),
            _plain(q(f"GRANT {APP_TABLE_PRIVILEGES} ON ALL TABLES IN SCHEMA {{}} TO {{}}", schema, app)),
            _plain(q("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {} FROM {}", schema, app)),
            # nextval needs USAGE; no UPDATE, so the app cannot setval a sequence back.
            _plain(q("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}", schema, app)),
            _plain(q(f"ALTER DEFAULT PRIVILEGES FOR ROLE {{}} IN SCHEMA {{}} GRANT {APP_TABLE_PRIVILEGES} "
                     "ON TABLES TO {}", owner, schema, app)),
            _plain(q("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT USAGE, SELECT ON SEQUENCES TO {}",
                     owner, schema, app)),
        ]
        for table in APPEND_ONLY_TABLES:
            cursor.execute("SELECT to_regclass(%s)", [f'"{schema}"."{table}"'])
            if cursor.fetchone()[0] is not None:  # absent before the first migrate
                plan += [
                    _plain(q("REVOKE ALL ON TABLE {}.{} FROM PUBLIC, {}", schema, table, app)),
                    _plain(q("GRANT SELECT, INSERT ON TABLE {}.{} TO {}", schema, table, app)),
                ]
    return plan


def db_roles_apply(*, plan: list[Statement], owner: str, app: str, using: str = "default") -> None:
    """Runs the plan in one transaction, rolled back if the result still has a problem."""
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        for statement in plan:
            cursor.execute(statement.sql)
        problems = db_roles_problems(owner=owner, app=app, using=using)
        if problems:
            raise DbRolesError(problems)


def db_roles_problems(*, owner: str, app: str, using: str = "default") -> list[str]:
    """What would let the app role change the audit trail or the schema; empty when all is well."""
    _check_names(owner=owner, app=app)
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls OR rolreplication,"
            " pg_has_role(rolname, %s, 'MEMBER') FROM pg_roles WHERE rolname = %s",
            [owner, app],
        )
        row = cursor.fetchone()
        if row is None:
            return [f"Role {app} does not exist."]
        problems = []
        if row[0]:
            problems.append(f"Role {app} holds a role attribute beyond LOGIN.")
        if row[1]:
            problems.append(f"Role {app} is a member of the owner role {owner}.")
        # Owning the schema, a table or a function (the guard's trigger function above all), or
        # being able to SET ROLE to its owner, would let the app role alter, disable or replace it.
        cursor.execute(
            "SELECT nspname FROM pg_namespace WHERE oid = current_schema()::regnamespace"
            " AND pg_has_role(%s, nspowner, 'MEMBER')"
            " UNION ALL SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace"
            " AND pg_has_role(%s, relowner, 'MEMBER')"
            " UNION ALL SELECT proname FROM pg_proc WHERE pronamespace = current_schema()::regnamespace"
            " AND pg_has_role(%s, proowner, 'MEMBER') ORDER BY 1",
            [app, app, app],
        )
        owned = [name for (name,) in cursor.fetchall()]
        if owned:
            problems.append(f"Role {app} owns, or may act as the owner of, {len(owned)} objects: "
                            f"{', '.join(owned[:5])}{'…' if len(owned) > 5 else ''}.")
        for table in APPEND_ONLY_TABLES:
            cursor.execute("SELECT to_regclass(%s)", [table])
            if cursor.fetchone()[0] is None:
                continue
            cursor.execute(
                "SELECT p FROM unnest(ARRAY['UPDATE', 'DELETE', 'TRUNCATE', 'TRIGGER', 'REFERENCES']) p"
                " WHERE has_table_privilege(%s, %s, p)"
                " OR (p IN ('UPDATE', 'REFERENCES') AND has_any_column_privilege(%s, %s, p))",
                [app, table, app, table],
            )
            problems += [f"Role {app} holds {privilege} on {table}." for (privilege,) in cursor.fetchall()]
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND tgenabled <> 'D'", [table])
            enabled = {name for (name,) in cursor.fetchall()}
            problems += [f"Trigger {name} on {table} is missing or disabled."
                         for name in APPEND_ONLY_TRIGGERS if name not in enabled]
    return problems


def _check_names(*, owner: str, app: str) -> None:
    for role in (owner, app):
        if not ROLE_NAME.match(role):
            raise ValueError(f"{role!r} is not a plain lower-case role name.")
    if owner == app:
        raise ValueError("The owner and the app role must be two different roles.")


def _plain(text: str) -> Statement:
    return Statement(sql=text, shown=text)


def _role_statements(
    cursor: CursorWrapper, raw: psycopg.Connection, q: Quote, *, role: str, password: str | None
) -> list[Statement]:
    cursor.execute(f"SELECT {', '.join(_ROLE_ATTRIBUTES)} FROM pg_roles WHERE rolname = %s", [role])
    row = cursor.fetchone()
    attributes = " ".join(_ROLE_ATTRIBUTES.values())
    statements = []
    if row is None:
        statements.append(_plain(q(f"CREATE ROLE {{}} {attributes}", role)))
    elif row != (True, False, False, False, False, False):
        statements.append(_plain(q(f"ALTER ROLE {{}} {attributes}", role)))
    if password:
        template = "ALTER ROLE {} PASSWORD {}"
        statements.append(Statement(
            sql=sql.SQL(template).format(sql.Identifier(role), sql.Literal(password)).as_string(raw),
            shown=q(template.replace("PASSWORD {}", "PASSWORD '…'"), role),
        ))
    return statements


def _ownership_statements(cursor: CursorWrapper, q: Quote, *, schema: str, owner: str) -> list[Statement]:
    """Hands the schema and what is in it to the owner, leaving out what belongs to an extension
    and the sequences that belong to a table (they follow their table)."""
    cursor.execute(
        "SELECT nspowner IS DISTINCT FROM to_regrole(%s) FROM pg_namespace WHERE nspname = %s", [owner, schema]
    )
    statements = [_plain(q("ALTER SCHEMA {} OWNER TO {}", schema, owner))] if cursor.fetchone()[0] else []
    cursor.execute(
        "SELECT c.relname, c.relkind FROM pg_class c"
        " WHERE c.relnamespace = to_regnamespace(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')"
        " AND c.relowner IS DISTINCT FROM to_regrole(%s)"
        " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid"
        "   AND (d.deptype = 'e' OR (c.relkind = 'S' AND d.deptype IN ('a', 'i'))))"
        " ORDER BY c.relname",
        [schema, owner],
    )
    statements += [_plain(q(f"ALTER {_RELATION_KINDS[kind]} {{}}.{{}} OWNER TO {{}}", schema, name, owner))
                   for name, kind in cursor.fetchall()]
    cursor.execute(
        "SELECT p.proname, pg_get_function_identity_arguments(p.oid) FROM pg_proc p"
        " WHERE p.pronamespace = to_regnamespace(%s) AND p.prokind IN ('f', 'p')"
        " AND p.proowner IS DISTINCT FROM to_regrole(%s)"
        " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid"
        "   AND d.deptype = 'e')"
        " ORDER BY 1, 2",
        [schema, owner],
    )
    statements += [_plain(f"ALTER ROUTINE {q('{}.{}', schema, name)}({arguments}) OWNER TO {q('{}', owner)}")
                   for name, arguments in cursor.fetchall()]
    return statements
