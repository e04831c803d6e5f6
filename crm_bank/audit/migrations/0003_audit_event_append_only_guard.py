"""The audit table's append-only guard as plain PL/pgSQL triggers instead of a pgtrigger Protect.

pgtrigger wraps every trigger function in a check of the `pgtrigger.ignore` setting, and any
role may set that for its own transaction (`SELECT set_config('pgtrigger.ignore', ...)`), so
the application's database role could switch the old guard off and then delete rows. These
functions consult no setting. What is left to bypass them needs ownership of the table
(ALTER TABLE ... DISABLE TRIGGER, DROP TRIGGER) or superuser (session_replication_role),
and the application role has neither (see `manage.py db_roles`).
"""

from __future__ import annotations

import pgtrigger.migrations
from django.db import migrations

GUARD_SQL = """
CREATE FUNCTION audit_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'Cannot update or delete rows of the append-only table %', TG_TABLE_NAME;
END;
$$;

CREATE TRIGGER audit_event_append_only
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change();

-- TRUNCATE: the primary defence is that the application role holds no TRUNCATE privilege
-- (PostgreSQL checks it before any trigger runs). This trigger is the second line, for the
-- day someone grants it by mistake: it lets through only the table's owner and superusers.
-- Refusing them too would buy nothing (the owner can drop the trigger) and would break the
-- test runner, which empties every table with TRUNCATE between transactional tests.
CREATE FUNCTION audit_event_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_catalog.pg_has_role(
        current_user,
        (SELECT relowner FROM pg_catalog.pg_class WHERE oid = TG_RELID),
        'USAGE'
    ) THEN
        RAISE EXCEPTION 'Cannot truncate the append-only table % as role %', TG_TABLE_NAME, current_user;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER audit_event_no_truncate
    BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_truncate();
"""

DROP_GUARD_SQL = """
DROP TRIGGER audit_event_no_truncate ON audit_auditevent;
DROP FUNCTION audit_event_refuse_truncate();
DROP TRIGGER audit_event_append_only ON audit_auditevent;
DROP FUNCTION audit_event_refuse_change();
"""


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0002_audit_event_occurred_at_label"),
    ]

    operations = [
        # The old pgtrigger trigger carries a `pgtrigger_` prefix in the database, so the new
        # one may take the readable name while both exist inside this migration's transaction.
        migrations.RunSQL(GUARD_SQL, DROP_GUARD_SQL),
        pgtrigger.migrations.RemoveTrigger(
            model_name="auditevent",
            name="audit_event_append_only",
        ),
        # pgtrigger drops a trigger but leaves its function; this one honours the ignore
        # setting, so it should not linger. Going back, AddTrigger re-creates it.
        migrations.RunSQL(
            "DROP FUNCTION IF EXISTS pgtrigger_audit_event_append_only_27797()", migrations.RunSQL.noop
        ),
    ]
