"""The bank's starting service policy per value tier (campaigns/defaults.py)."""

from django.db import migrations

from campaigns.defaults import DEFAULT_SERVICE_POLICIES


def seed(apps, schema_editor):
    ServicePolicy = apps.get_model("campaigns", "ServicePolicy")
    for tier, channels, days, level, note in DEFAULT_SERVICE_POLICIES:
        ServicePolicy.objects.get_or_create(tier=tier, segment=None, defaults={
            "channels": channels, "min_contact_days": days, "service_level": level, "note": note})


def unseed(apps, schema_editor):
    apps.get_model("campaigns", "ServicePolicy").objects.filter(segment=None).delete()


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0005_service_policy")]
    operations = [migrations.RunPython(seed, unseed)]
