"""The nightly lifecycle run as a django-celery-beat task, so an admin can move or pause it."""

from __future__ import annotations

from django.db import migrations

TASK_NAME = "Customer lifecycle (nightly)"


def fill_schedule(apps, schema_editor) -> None:
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    # 03:30 in the bank's time zone: after the day-end feed and the 02:30 value scoring, before staff arrive.
    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="3", day_of_week="*", day_of_month="*", month_of_year="*",
    )
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "channels.lifecycle_nightly",
            "crontab": schedule,
            "description": "Recomputes every customer's lifecycle stage by the lifecycle rules, as of the latest "
                           "transaction date, and records the per-branch funnel.",
        },
    )


def remove_schedule(apps, schema_editor) -> None:
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("channels", "0002_fill_complaint_slas_and_lifecycle_rules"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(fill_schedule, remove_schedule)]
