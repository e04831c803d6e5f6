from django.contrib.postgres.operations import RemoveIndexConcurrently
from django.db import migrations


class Migration(migrations.Migration):
    # The customer indexes on the last contact, replaced by contact recency's (0027); dropped
    # without locking out writes.
    atomic = False

    dependencies = [
        ("customers", "0027_customer_contact_recency"),
    ]

    operations = [
        RemoveIndexConcurrently(model_name="customer", name="customer_last_contact_idx"),
        RemoveIndexConcurrently(model_name="customer", name="customer_branch_silent_idx"),
        RemoveIndexConcurrently(model_name="customer", name="customer_rm_silent_idx"),
    ]
