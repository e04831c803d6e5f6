"""The customer's last contact gets a narrow, indexed copy kept by the database
(customers.models.contact_recency), and the customer table leaves room on its pages for updates in
place. The copy is filled from the customers in the same transaction that creates its triggers, so
no write falls between the two; its indexes are built after the fill. Writes to customers wait for
that transaction: with 0028, 6 s at a million customers on the development machine.

The fill factor applies to pages written from now on. On a database that already holds many
customers, rewrite the table once in a quiet hour (`VACUUM FULL customers_customer`, or pg_repack
without the lock) so that existing pages get the room too; until then the first contact of a
customer on a full page still moves its row."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

CUSTOMER = "customers_customer"
RECENCY = "customers_customercontactrecency"

TRIGGERS = f"""
CREATE FUNCTION customer_contact_recency_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {RECENCY} (customer_id, primary_rm_id, home_branch_id, last_contact_at)
    SELECT id, primary_rm_id, home_branch_id, last_contact_at FROM new_customers
    ON CONFLICT (customer_id) DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER customer_contact_recency_insert
    AFTER INSERT ON {CUSTOMER} REFERENCING NEW TABLE AS new_customers
    FOR EACH STATEMENT EXECUTE FUNCTION customer_contact_recency_insert();

CREATE FUNCTION customer_contact_recency_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {RECENCY} (customer_id, primary_rm_id, home_branch_id, last_contact_at)
    VALUES (NEW.id, NEW.primary_rm_id, NEW.home_branch_id, NEW.last_contact_at)
    ON CONFLICT (customer_id) DO UPDATE SET primary_rm_id = excluded.primary_rm_id,
        home_branch_id = excluded.home_branch_id, last_contact_at = excluded.last_contact_at;
    RETURN NULL;
END $$;

-- Only statements that set one of the three columns fire it, and only rows where one changed.
CREATE TRIGGER customer_contact_recency_update
    AFTER UPDATE OF last_contact_at, primary_rm_id, home_branch_id ON {CUSTOMER}
    FOR EACH ROW WHEN (OLD.last_contact_at IS DISTINCT FROM NEW.last_contact_at
                       OR OLD.primary_rm_id IS DISTINCT FROM NEW.primary_rm_id
                       OR OLD.home_branch_id IS DISTINCT FROM NEW.home_branch_id)
    EXECUTE FUNCTION customer_contact_recency_update();

INSERT INTO {RECENCY} (customer_id, primary_rm_id, home_branch_id, last_contact_at)
SELECT id, primary_rm_id, home_branch_id, last_contact_at FROM {CUSTOMER};

ALTER TABLE {CUSTOMER} SET (fillfactor = 85);
"""

TRIGGERS_DROP = f"""
ALTER TABLE {CUSTOMER} RESET (fillfactor);
DROP TRIGGER customer_contact_recency_update ON {CUSTOMER};
DROP FUNCTION customer_contact_recency_update();
DROP TRIGGER customer_contact_recency_insert ON {CUSTOMER};
DROP FUNCTION customer_contact_recency_insert();
"""


class Migration(migrations.Migration):

    dependencies = [
        ("customers", "0026_anonymisation_schedule"),
        ("org", "0002_staff_role_compliance"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="CustomerContactRecency",
            fields=[
                ("customer", models.OneToOneField(
                    on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name="contact_recency",
                    serialize=False, to="customers.customer", verbose_name="customer")),
                ("primary_rm", models.ForeignKey(
                    db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING,
                    related_name="+", to=settings.AUTH_USER_MODEL, verbose_name="relationship manager")),
                ("home_branch", models.ForeignKey(
                    db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING,
                    related_name="+", to="org.branch", verbose_name="home branch")),
                ("last_contact_at", models.DateTimeField(null=True, verbose_name="last contact")),
            ],
            options={
                "verbose_name": "customer contact recency",
                "verbose_name_plural": "customer contact recency",
                "default_permissions": ("view",),
            },
        ),
        migrations.RunSQL(TRIGGERS, TRIGGERS_DROP),
        migrations.AddIndex(
            model_name="customercontactrecency",
            index=models.Index(fields=["last_contact_at", "customer"], name="contact_recency_at_idx"),
        ),
        migrations.AddIndex(
            model_name="customercontactrecency",
            index=models.Index(models.F("home_branch"), models.OrderBy(models.F("last_contact_at"), nulls_first=True),
                               models.F("customer"), name="contact_recency_branch_idx"),
        ),
        migrations.AddIndex(
            model_name="customercontactrecency",
            index=models.Index(models.F("primary_rm"), models.OrderBy(models.F("last_contact_at"), nulls_first=True),
                               models.F("customer"), condition=models.Q(("primary_rm__isnull", False)),
                               name="contact_recency_rm_idx"),
        ),
    ]
