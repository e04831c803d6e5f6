"""Customers who joined since the weekly model training are scored every night with the published
models (segmentation.tasks.new_customers_scoring_nightly), a django-celery-beat task an admin can
move or pause."""

from __future__ import annotations

from django.db import migrations

TASK_NAME = "Score new customers with the published models (nightly)"


def fill_schedule(apps, schema_editor) -> None:
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    # 05:00 in the bank's time zone: after the nightly value scoring (02:30), segmentation (03:30)
    # and retention (04:30), before staff arrive; new customers then have a propensity and a churn
    # risk on their 360° page the morning after they join.
    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="5", day_of_week="*", day_of_month="*", month_of_year="*",
    )
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "segmentation.tasks.new_customers_scoring_nightly",
            "crontab": schedule,
            "description": "Propensity and churn risk for customers the published models have not scored yet.",
        },
    )


def remove_schedule(apps, schema_editor) -> None:
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("segmentation", "0013_model_artefact_signature"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(fill_schedule, remove_schedule)]
