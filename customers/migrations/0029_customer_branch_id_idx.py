from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # A million customers and more: built without locking out writes.
    atomic = False

    dependencies = [
        ("customers", "0028_customer_last_contact_indexes_to_recency"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="customer",
            index=models.Index(fields=["home_branch", "id"], name="customer_branch_id_idx"),
        ),
    ]
