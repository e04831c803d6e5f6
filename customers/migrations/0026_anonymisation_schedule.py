"""The nightly retention run as a django-celery-beat task, so an admin can move or pause it."""

from __future__ import annotations

from django.db import migrations

TASK_NAME = "Anonymise customers past retention (nightly)"


def fill_schedule(apps, schema_editor) -> None:
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    # 04:30 in the bank's time zone: after the lifecycle run (03:30) has marked who closed.
    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="4", day_of_week="*", day_of_month="*", month_of_year="*",
    )
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "customers.anonymisation_nightly",
            "crontab": schedule,
            "description": "Anonymises customers whose relationship closed more than CRM_RETENTION_YEARS ago; "
                           "aggregates and the audit trail stay.",
        },
    )


def remove_schedule(apps, schema_editor) -> None:
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0025_customer_anonymised_at"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(fill_schedule, remove_schedule)]
