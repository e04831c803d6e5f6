from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Tens of millions of transactions: the new index is built beside the old one without locking
    # out writes, and the old one dropped once the new one serves the same reads.
    atomic = False

    dependencies = [
        ("customers", "0010_customer_coded_labels_product_name_zh"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="transaction",
            index=models.Index(
                fields=["account", "-booked_at", "-id"], name="txn_account_booked_cover_idx",
                include=["amount", "direction", "kind", "channel"],
            ),
        ),
        RemoveIndexConcurrently(model_name="transaction", name="txn_account_booked_idx"),
    ]
