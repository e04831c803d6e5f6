"""`run_value_scoring` and the nightly schedule the data migration seeds."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask

from crm_bank.runs.models import Run
from segmentation.models import CustomerValue
from segmentation.tasks import value_scoring_nightly
from tests.segmentation.conftest import AS_OF

pytestmark = pytest.mark.django_db


def test_run_value_scoring_sync_publishes_and_prints_metrics(small_bank, capsys):
    call_command("run_value_scoring", "--as-of", AS_OF.isoformat(), "--sync")

    run = Run.objects.get()
    assert run.status == Run.Status.SUCCEEDED and run.as_of == AS_OF
    assert CustomerValue.objects.filter(run=run).count() == 3
    out = capsys.readouterr().out
    assert f"Run #{run.pk} published as of 2024-06-30" in out and '"top20_share"' in out
    assert '"currency": "CZK"' in out and "lorenz" not in out


@pytest.mark.parametrize("bad", ["2024-13-01", "30/06/2024", "yesterday"])
def test_run_value_scoring_refuses_a_malformed_date(small_bank, bad):
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("run_value_scoring", "--as-of", bad, "--sync")

    assert not Run.objects.exists()


def test_run_value_scoring_before_any_data_is_a_command_error(small_bank):
    with pytest.raises(CommandError, match="No transaction is booked on or before 1990-01-01"):
        call_command("run_value_scoring", "--as-of", "1990-01-01", "--sync")

    assert not Run.objects.exists()


@pytest.mark.parametrize("command", ["run_value_scoring", "run_segmentation", "train_models"])
@pytest.mark.parametrize("far_off", ["0001-05-05", "1899-12-31", "9999-12-31"])
def test_an_as_of_date_out_of_range_is_a_command_error(small_bank, command, far_off):
    """Year 1 and 9999-12-31 broke the 12-month window's arithmetic with a traceback."""
    with pytest.raises(CommandError, match=f"must lie between 1900-01-01 and today .* not {far_off}"):
        call_command(command, "--as-of", far_off, "--sync")

    assert not Run.objects.exists()


def test_an_as_of_date_after_today_is_refused_by_the_run_framework(small_bank):
    import datetime

    from django.utils import timezone

    from crm_bank.runs.errors import RunParamsInvalid
    from crm_bank.runs.services import run_start

    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    with pytest.raises(RunParamsInvalid, match="today"):
        run_start(kind="value_scoring", as_of=tomorrow, sync=True)

    assert not Run.objects.exists()


def test_the_formula_and_cut_offs_come_from_the_settings_and_the_options_override_them(small_bank, settings):
    settings.CRM_VALUE_WEIGHTS = {"fee_share": 0.5, "deposit_margin": 0.02}
    settings.CRM_TIER_A_SHARE, settings.CRM_TIER_B_SHARE = 0.7, 0.2

    call_command("run_value_scoring", "--as-of", AS_OF.isoformat(), "--sync")
    call_command("run_value_scoring", "--as-of", AS_OF.isoformat(), "--sync", "--weight", "fee_share=0",
                 "--weight", "card_income_per_payment=0.5", "--a-share", "0.6")

    from_settings, from_options = Run.objects.order_by("pk")
    assert from_settings.params["weights"] == {"deposit_margin": 0.02, "lending_spread": 0.025,
                                               "card_income_per_payment": 0.30, "fee_share": 0.5}
    assert (from_settings.params["a_share"], from_settings.params["b_share"]) == (0.7, 0.2)
    assert from_options.params["weights"] == {"deposit_margin": 0.02, "lending_spread": 0.025,
                                              "card_income_per_payment": 0.5, "fee_share": 0.0}
    assert (from_options.params["a_share"], from_options.params["b_share"]) == (0.6, 0.2)


@pytest.mark.parametrize(("args", "message"), [
    (["--weight", "bonus=1"], "--weight takes NAME=RATE with NAME one of deposit_margin"),
    (["--weight", "fee_share"], "--weight takes NAME=RATE"),
    (["--weight", "fee_share=lots"], "the rate must be a number, not 'lots'"),
    (["--weight", "fee_share=-1"], "fee_share must be a finite number ≥ 0"),
    (["--a-share", "1.2"], "Tier cut-offs must satisfy 0 < A < 1"),
    (["--a-share", "0.9", "--b-share", "0.2"], "Tier cut-offs must satisfy"),
])
def test_bad_rates_or_cut_offs_are_command_errors_and_start_nothing(small_bank, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("run_value_scoring", "--as-of", AS_OF.isoformat(), "--sync", *args)

    assert not Run.objects.exists()


def test_nightly_schedule_is_seeded_and_editable(db):
    # Run the data migration's step again (a transactional test elsewhere may have flushed its row):
    # it must create the task once, whatever was there.
    migration = importlib.import_module("segmentation.migrations.0002_fill_value_scoring_nightly_schedule")
    migration.fill_schedule(apps, None)
    migration.fill_schedule(apps, None)

    task = PeriodicTask.objects.get(task="segmentation.tasks.value_scoring_nightly")

    assert task.enabled and task.crontab is not None and (task.crontab.hour, task.crontab.minute) == ("2", "30")


def test_nightly_task_without_data_logs_and_starts_nothing(db, caplog):
    assert value_scoring_nightly() is None

    assert "not started" in caplog.text and not Run.objects.exists()
