from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Tens of millions of transactions: built without locking out writes.
    atomic = False

    dependencies = [
        ("customers", "0011_transaction_index_covers_feature_columns"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="transaction",
            index=models.Index(fields=["booked_at"], name="txn_booked_idx"),
        ),
    ]
