"""The nightly value-scoring run as a django-celery-beat task, so an admin can move or pause it."""

from __future__ import annotations

from django.db import migrations

TASK_NAME = "Value scoring (nightly)"


def fill_schedule(apps, schema_editor) -> None:
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    # 02:30 in the bank's time zone: after the core banking day-end feed, before staff arrive.
    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="2", day_of_week="*", day_of_month="*", month_of_year="*",
    )
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "segmentation.tasks.value_scoring_nightly",
            "crontab": schedule,
            "description": "Scores every customer's value and 80/20 tier as of the latest transaction date.",
        },
    )


def remove_schedule(apps, schema_editor) -> None:
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("segmentation", "0001_customer_features_and_value"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(fill_schedule, remove_schedule)]
