"""The survivorship rules a merge starts with (edited in admin): identity, consent and the branch/RM
follow the more trusted source; contact details and the address follow the more recent value."""

from django.db import migrations

RULES = {"identity": "trust", "contact": "recent", "address": "recent", "consent": "trust", "relationship": "trust"}


def fill_survivorship_rules(apps, schema_editor):
    SurvivorshipRule = apps.get_model("customers", "SurvivorshipRule")
    for group, strategy in RULES.items():
        SurvivorshipRule.objects.get_or_create(group=group, defaults={"strategy": strategy})


class Migration(migrations.Migration):
    dependencies = [("customers", "0019_merge_candidates_and_tombstones")]
    operations = [migrations.RunPython(fill_survivorship_rules, migrations.RunPython.noop)]
