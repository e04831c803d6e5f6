"""The weekly model-training run as a django-celery-beat task, so an admin can move or pause it."""

from __future__ import annotations

from django.db import migrations

TASK_NAME = "Model training (weekly)"


def fill_schedule(apps, schema_editor) -> None:
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    # Sundays 04:30 in the bank's time zone: after that night's value scoring (02:30) and
    # segmentation (03:30), whose published segments the per-segment action table reads, and before
    # staff arrive. Weekly: the models learn from campaign outcomes and months of transactions,
    # which a day hardly changes.
    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="4", day_of_week="0", day_of_month="*", month_of_year="*",
    )
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "segmentation.tasks.model_training_weekly",
            "crontab": schedule,
            "description": "Trains the response and churn models, scores every customer and values each "
                           "segment's service actions, as of the latest data.",
        },
    )


def remove_schedule(apps, schema_editor) -> None:
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("segmentation", "0005_fill_segmentation_nightly_schedule"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(fill_schedule, remove_schedule)]
