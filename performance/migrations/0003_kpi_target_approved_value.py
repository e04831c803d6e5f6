"""The value in force of a KPI target (its last approved value), so that a proposed change to an
approved branch target no longer takes it out of the scores until it is approved. Targets approved
before this migration are in force at their value."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("performance", "0002_seed_default_kpis"),
    ]

    operations = [
        migrations.AddField(
            model_name="kpitarget",
            name="approved_value",
            field=models.DecimalField(blank=True, decimal_places=4, max_digits=18, null=True,
                                      verbose_name="approved target"),
        ),
        migrations.RunSQL(
            "UPDATE performance_kpitarget SET approved_value = value WHERE status = 'approved'",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
