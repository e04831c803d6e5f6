import django.contrib.postgres.indexes
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Tens of millions of interactions: their index is built without locking out the ingest.
    atomic = False

    dependencies = [
        ("channels", "0003_fill_lifecycle_schedule"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="interaction",
            index=django.contrib.postgres.indexes.BrinIndex(fields=["occurred_at"], name="interaction_occurred_brin"),
        ),
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(condition=models.Q(("read_at__isnull", True)),
                               fields=["recipient", "-created_at", "-id"], name="notification_unread_idx"),
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(fields=["assignee", "-due_at", "-id"], name="task_assignee_list_idx"),
        ),
        # No SQL: the admin's help text says inactivity counts only the contacts the customer made.
        migrations.AlterField(
            model_name="lifecyclerule",
            name="min_months_inactive",
            field=models.PositiveIntegerField(
                blank=True, null=True, verbose_name="no activity for at least (months)",
                help_text="Activity: an own transaction, or a contact the customer made (an inbound interaction).",
            ),
        ),
    ]
