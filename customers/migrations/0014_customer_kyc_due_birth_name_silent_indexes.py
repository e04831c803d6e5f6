from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # A million customers and more: built without locking out writes.
    atomic = False

    dependencies = [
        ("customers", "0013_product_owner"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="customer",
            index=models.Index(condition=models.Q(("primary_rm__isnull", False)), fields=["kyc_review_due"],
                               name="customer_kyc_due_idx"),
        ),
        AddIndexConcurrently(
            model_name="customer",
            index=models.Index(condition=models.Q(("birth_date__isnull", False)), fields=["birth_date", "name_key"],
                               name="customer_birth_name_idx"),
        ),
        AddIndexConcurrently(
            model_name="customer",
            index=models.Index(models.F("home_branch"), models.OrderBy(models.F("last_contact_at"), nulls_first=True),
                               models.F("id"), name="customer_branch_silent_idx"),
        ),
        AddIndexConcurrently(
            model_name="customer",
            index=models.Index(models.F("primary_rm"), models.OrderBy(models.F("last_contact_at"), nulls_first=True),
                               models.F("id"), condition=models.Q(("primary_rm__isnull", False)),
                               name="customer_rm_silent_idx"),
        ),
    ]
