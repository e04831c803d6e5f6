"""Default complaint SLAs per severity and the lifecycle rules the product starts with; both are
edited in admin afterwards."""

from django.db import migrations

# severity, resolve within (hours), each escalation step after that (hours)
SLAS = [("critical", 24, 4), ("high", 48, 12), ("medium", 120, 24), ("low", 240, 48)]
# priority, stage, conditions
RULES = [
    (10, "closed", {"no_open_accounts": True}),
    (20, "dormant", {"min_months_inactive": 12}),
    (30, "loyal", {"min_tenure_months": 36, "min_products": 3}),
]


def fill(apps, schema_editor):
    ComplaintSLA = apps.get_model("channels", "ComplaintSLA")
    LifecycleRule = apps.get_model("channels", "LifecycleRule")
    for severity, hours, step in SLAS:
        ComplaintSLA.objects.get_or_create(
            severity=severity, defaults={"resolve_within_hours": hours, "escalation_step_hours": step}
        )
    for priority, stage, conditions in RULES:
        LifecycleRule.objects.get_or_create(priority=priority, defaults={"stage": stage, **conditions})


class Migration(migrations.Migration):
    dependencies = [("channels", "0001_initial")]
    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
