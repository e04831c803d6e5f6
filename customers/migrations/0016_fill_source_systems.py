"""The source systems the product loaded from before they became data: one row per code already
used by a source record (the four built-in ones and anything else found), so the next migration can
point every record at its system."""

from django.db import migrations

BUILT_IN = {
    "pkdd_core": "Core banking (PKDD'99 client file)",
    "uci_tm": "Telemarketing (UCI Bank Marketing)",
    "synthetic": "Synthetic demo bank",
    "branch": "Entered at a branch",
}


def fill_source_systems(apps, schema_editor):
    SourceSystem = apps.get_model("customers", "SourceSystem")
    SourceRecord = apps.get_model("customers", "SourceRecord")
    used = set(SourceRecord.objects.values_list("system", flat=True).distinct())
    for code in sorted(used | set(BUILT_IN)):
        SourceSystem.objects.get_or_create(code=code, defaults={"name": BUILT_IN.get(code, code)})


class Migration(migrations.Migration):
    dependencies = [("customers", "0015_source_systems_and_import_batches")]
    operations = [migrations.RunPython(fill_source_systems, migrations.RunPython.noop)]
