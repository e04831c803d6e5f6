"""Source records point at the source-system registry; the column keeps its codes."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("customers", "0016_fill_source_systems")]
    operations = [
        migrations.AlterField(
            model_name='sourcerecord',
            name='system',
            field=models.ForeignKey(db_column='system', db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='records', to='customers.sourcesystem', to_field='code', verbose_name='source system'),
        ),
    ]
