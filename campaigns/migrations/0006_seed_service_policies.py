"""The bank's starting service policy per value tier (editable in admin afterwards): tier A is
served by its RM and may be called monthly, tier B by the call centre's priority queue every two
months, tier C by digital channels only, at most quarterly."""

from django.db import migrations

DEFAULTS = (
    ("A", ["branch", "call_centre", "email", "mobile"], 30, "dedicated_rm", "RM call at most monthly"),
    ("B", ["call_centre", "email", "sms", "mobile", "web"], 60, "priority", "Call centre priority queue"),
    ("C", ["email", "sms", "mobile", "web"], 90, "digital", "Digital only, at most quarterly"),
)


def seed(apps, schema_editor):
    ServicePolicy = apps.get_model("campaigns", "ServicePolicy")
    for tier, channels, days, level, note in DEFAULTS:
        ServicePolicy.objects.get_or_create(tier=tier, segment=None, defaults={
            "channels": channels, "min_contact_days": days, "service_level": level, "note": note})


def unseed(apps, schema_editor):
    apps.get_model("campaigns", "ServicePolicy").objects.filter(segment=None).delete()


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0005_service_policy")]
    operations = [migrations.RunPython(seed, unseed)]
