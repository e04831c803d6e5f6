"""`manage.py db_roles`: connected as the app role, nothing changes the audit trail but INSERT.

The test database was migrated by a superuser, as an existing production database would have
been; the command hands it to a throw-away owner role and grants a throw-away app role its row
rights. Roles are cluster-wide, so both are dropped afterwards whatever happens.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import ProgrammingError, connection, transaction

from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record

pytestmark = pytest.mark.django_db(transaction=True)

INSERT_EVENT = ("INSERT INTO audit_auditevent (occurred_at, action, outcome, object_type, object_id, detail)"
                " VALUES (now(), 'view', 'allowed', 'customer', '1', '{}') RETURNING id")


@dataclass(frozen=True)
class Roles:
    owner: str
    app: str
    app_password: str

    def connect_as_app(self) -> psycopg.Connection:
        """A connection of its own, as the app role, to the same test database."""
        settings = connection.settings_dict
        return psycopg.connect(
            host=settings["HOST"] or None, port=settings["PORT"] or None, dbname=settings["NAME"],
            user=self.app, password=self.app_password, autocommit=True,
        )


@pytest.fixture
def roles(monkeypatch: pytest.MonkeyPatch) -> Iterator[Roles]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if not cursor.fetchone()[0]:
            pytest.skip("Creating roles and handing tables over needs a superuser.")
        cursor.execute("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'public'")
        schema_owner = cursor.fetchone()[0]
    suffix = secrets.token_hex(4)
    roles = Roles(owner=f"test_owner_{suffix}", app=f"test_app_{suffix}", app_password=secrets.token_hex(16))
    monkeypatch.setenv("CRM_DB_APP_PASSWORD", roles.app_password)
    monkeypatch.delenv("CRM_DB_OWNER_PASSWORD", raising=False)
    try:
        yield roles
    finally:
        _drop_roles(roles, schema_owner=schema_owner)


def _drop_roles(roles: Roles, *, schema_owner: str) -> None:
    """Hands everything back to the superuser (and the schema to its first owner), then drops both."""
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        cursor.execute("SELECT rolname FROM pg_roles WHERE rolname IN (%s, %s)", [roles.owner, roles.app])
        existing = {name for (name,) in cursor.fetchall()}
        if roles.owner in existing:
            cursor.execute(f'ALTER SCHEMA public OWNER TO "{schema_owner}"')
            cursor.execute(f'REASSIGN OWNED BY "{roles.owner}" TO CURRENT_USER')
        for role in existing:
            cursor.execute(f'DROP OWNED BY "{role}"')
            cursor.execute(f'DROP ROLE "{role}"')


def _set_up(roles: Roles, **options: object) -> None:
    call_command("db_roles", owner=roles.owner, app=roles.app, **options)


@pytest.fixture
def event(rm_a) -> AuditEvent:
    return audit_record(actor=rm_a, action=AuditEvent.Action.VIEW, outcome=AuditEvent.Outcome.ALLOWED,
                        object_type="customer", object_id=1)


IGNORE_GUARD = ("SELECT set_config('pgtrigger.ignore',"
                " '{audit_event_append_only,pgtrigger_audit_event_append_only_27797}', true)")
# Each runs in one transaction of the app role's connection.
ATTACKS = {
    "update": ["UPDATE audit_auditevent SET outcome = 'denied'"],
    "delete": ["DELETE FROM audit_auditevent"],
    "truncate": ["TRUNCATE audit_auditevent"],
    "disable the trigger": ["ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only"],
    "disable all triggers": ["ALTER TABLE audit_auditevent DISABLE TRIGGER ALL"],
    "drop the trigger": ["DROP TRIGGER audit_event_append_only ON audit_auditevent"],
    "replace the guard function": ["CREATE OR REPLACE FUNCTION audit_event_refuse_change() RETURNS trigger"
                                   " LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$"],
    "replica mode, which skips triggers": ["SET LOCAL session_replication_role = replica"],
    "pgtrigger.ignore, then delete": [IGNORE_GUARD, "DELETE FROM audit_auditevent"],
    "pgtrigger.ignore, then update": [IGNORE_GUARD, "UPDATE audit_auditevent SET outcome = 'denied'"],
    "grant itself delete": ["GRANT DELETE ON audit_auditevent TO CURRENT_USER", "DELETE FROM audit_auditevent"],
}


def test_db_roles_app_role_cannot_change_the_audit_trail(roles: Roles, event: AuditEvent) -> None:
    _set_up(roles)
    refused = {}
    for attack, statements in ATTACKS.items():
        with roles.connect_as_app() as app:
            try:
                with app.transaction():
                    for statement in statements:
                        app.execute(statement)
            except psycopg.errors.InsufficientPrivilege:
                refused[attack] = True
            else:
                refused[attack] = False
    assert refused == dict.fromkeys(ATTACKS, True)
    event.refresh_from_db()
    assert event.outcome == AuditEvent.Outcome.ALLOWED
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_auditevent'::regclass"
                       " AND NOT tgisinternal AND tgenabled = 'O' ORDER BY 1")
        assert cursor.fetchall() == [("audit_event_append_only",), ("audit_event_no_truncate",)]


@pytest.mark.django_db(transaction=False)
def test_audit_guard_ignores_pgtrigger_ignore_even_for_a_role_with_the_privilege(event: AuditEvent) -> None:
    """The trigger itself, not only the privileges: the test runner's superuser may DELETE, yet
    the ignore setting that switched pgtrigger's guard off does nothing to this one."""
    refused = pytest.raises(ProgrammingError, match="Cannot update or delete")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(IGNORE_GUARD)
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_db_roles_truncate_trigger_holds_if_the_privilege_is_granted_by_mistake(
    roles: Roles, event: AuditEvent
) -> None:
    _set_up(roles)
    with connection.cursor() as cursor:
        cursor.execute(f'GRANT TRUNCATE ON audit_auditevent TO "{roles.app}"')
    with roles.connect_as_app() as app, pytest.raises(psycopg.errors.RaiseException, match="Cannot truncate"):
        app.execute("TRUNCATE audit_auditevent")
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_db_roles_app_role_inserts_and_reads_audit_rows_and_updates_ordinary_tables(
    roles: Roles, event: AuditEvent, customer_a
) -> None:
    _set_up(roles)
    with roles.connect_as_app() as app:
        new_id = app.execute(INSERT_EVENT).fetchone()[0]
        assert app.execute("SELECT count(*) FROM audit_auditevent").fetchone()[0] == 2
        changed = app.execute("UPDATE customers_customer SET city = 'Brno' WHERE id = %s", [customer_a.pk])
        assert changed.rowcount == 1
        # A contact, as the ingest writes it: the triggers keep the narrow copy as the app role.
        app.execute("UPDATE customers_customer SET last_contact_at = '2026-11-02T09:00Z' WHERE id = %s",
                    [customer_a.pk])
        copied = app.execute("SELECT last_contact_at FROM customers_customercontactrecency WHERE customer_id = %s",
                             [customer_a.pk]).fetchone()[0]
        assert copied == datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("CREATE TABLE app_made (id int)")
    assert AuditEvent.objects.filter(pk=new_id).exists()
    customer_a.refresh_from_db()
    assert customer_a.city == "Brno"


def test_db_roles_hands_an_existing_database_to_the_owner_once(roles: Roles, capsys: pytest.CaptureFixture) -> None:
    _set_up(roles)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
            " AND relkind IN ('r', 'p', 'v', 'm', 'S') AND relowner <> to_regrole(%s)"
            " UNION ALL SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace"
            " AND proowner <> to_regrole(%s)",
            [roles.owner, roles.owner],
        )
        assert cursor.fetchall() == []
        cursor.execute("SELECT nspowner = to_regrole(%s) FROM pg_namespace WHERE nspname = 'public'", [roles.owner])
        assert cursor.fetchone()[0]
    capsys.readouterr()
    _set_up(roles, sql=True)
    again = capsys.readouterr().out
    assert "GRANT SELECT, INSERT ON TABLE" in again
    assert "CREATE ROLE" not in again and "OWNER TO" not in again


def test_db_roles_tables_of_later_migrations_get_row_rights(roles: Roles) -> None:
    _set_up(roles)
    with connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{roles.owner}"')  # what `migrate` as the owner does
        cursor.execute("CREATE TABLE later_migration (id bigint GENERATED BY DEFAULT AS IDENTITY, note text)")
        cursor.execute("RESET ROLE")
    try:
        with roles.connect_as_app() as app:
            app.execute("INSERT INTO later_migration (note) VALUES ('a')")
            assert app.execute("UPDATE later_migration SET note = 'b'").rowcount == 1
            assert app.execute("DELETE FROM later_migration").rowcount == 1
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute("TRUNCATE later_migration")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE later_migration")


def test_db_roles_grants_only_as_owner_narrows_a_widened_audit_table(roles: Roles) -> None:
    _set_up(roles)
    with connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{roles.owner}"')
        # A migration that re-creates the audit table gets the wide default grant.
        cursor.execute(f'GRANT UPDATE, DELETE ON audit_auditevent TO "{roles.app}"')
        with pytest.raises(CommandError, match="holds UPDATE on audit_auditevent"):
            _set_up(roles, check=True)
        _set_up(roles, grants_only=True)
        cursor.execute("RESET ROLE")
    _set_up(roles, check=True)
    with roles.connect_as_app() as app, pytest.raises(psycopg.errors.InsufficientPrivilege):
        app.execute("DELETE FROM audit_auditevent")


def test_db_roles_refuses_to_leave_the_app_role_able_to_act_as_owner(roles: Roles) -> None:
    """A membership the command does not remove itself (through a third role) fails the run, and
    the whole run is rolled back: the UPDATE it would have revoked is still held."""
    middle = f"{roles.app}_middle"
    _set_up(roles)
    with connection.cursor() as cursor:
        cursor.execute(f'GRANT UPDATE ON audit_auditevent TO "{roles.app}"')
        cursor.execute(f'CREATE ROLE "{middle}" IN ROLE "{roles.owner}" ROLE "{roles.app}"')
    try:
        with pytest.raises(CommandError, match="member of the owner role"):
            _set_up(roles)
        with connection.cursor() as cursor:
            cursor.execute("SELECT has_table_privilege(%s, 'audit_auditevent', 'UPDATE')", [roles.app])
            assert cursor.fetchone()[0]
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP ROLE "{middle}"')
