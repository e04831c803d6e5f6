"""The starting KPI model (performance/defaults.py), editable in admin afterwards."""

from __future__ import annotations

from decimal import Decimal

from django.db import migrations


def seed(apps, schema_editor) -> None:
    from performance.defaults import DEFAULT_KPIS

    Kpi = apps.get_model("performance", "Kpi")
    for order, (code, name, name_zh, measure, unit, direction, weight_rm, weight_branch) in enumerate(DEFAULT_KPIS):
        Kpi.objects.get_or_create(code=code, defaults={
            "name": name, "name_zh": name_zh, "measure": measure, "unit": unit, "direction": direction,
            "weight_rm": Decimal(weight_rm), "weight_branch": Decimal(weight_branch), "order": order,
        })


class Migration(migrations.Migration):
    dependencies = [("performance", "0001_kpi_model")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
