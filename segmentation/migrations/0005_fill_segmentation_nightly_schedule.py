"""The nightly segmentation run as a django-celery-beat task, so an admin can move or pause it."""

from __future__ import annotations

from django.db import migrations

TASK_NAME = "Segmentation (nightly)"


def fill_schedule(apps, schema_editor) -> None:
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    # 03:30 in the bank's time zone: an hour after the value scoring (02:30), so the two runs do
    # not share the workers, and still before staff arrive.
    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="3", day_of_week="*", day_of_month="*", month_of_year="*",
    )
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "segmentation.tasks.segmentation_nightly",
            "crontab": schedule,
            "description": "Learned and rule segments of every customer as of the latest transaction date.",
        },
    )


def remove_schedule(apps, schema_editor) -> None:
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("segmentation", "0004_rule_segments_and_memberships"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(fill_schedule, remove_schedule)]
