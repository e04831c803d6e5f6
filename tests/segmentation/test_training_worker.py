"""The model-training run end to end through a real Celery worker and Redis."""

from __future__ import annotations

import pytest

from crm_bank.runs.models import Run
from crm_bank.runs.selectors import current_run
from crm_bank.runs.services import run_start
from segmentation.models import CustomerPrediction, ModelArtefact
from segmentation.prediction_data import latest_data_date
from segmentation.tasks import model_training_weekly
from segmentation.training import MODEL_TRAINING
from tests.runs.waiting import wait_until_finished
from tests.segmentation.model_bank import model_bank_fixture  # noqa: F401

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_training_run_through_worker_publishes_models_and_scores_in_chunks(model_bank, worker):
    queued = run_start(kind=MODEL_TRAINING, params={"chunk_size": 100}, as_of=latest_data_date())

    run = wait_until_finished(queued, timeout=180)

    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.chunks_total == run.chunks_done >= 3  # 301 customers in chunks of 100, shared by two threads
    assert CustomerPrediction.objects.filter(run=run).count() == len(model_bank.everyone)
    assert ModelArtefact.objects.filter(run=run).count() == 2
    assert current_run(kind=MODEL_TRAINING) == run


def test_weekly_training_through_worker(model_bank, worker):
    run_id = model_training_weekly.delay().get(timeout=30)

    run = wait_until_finished(Run.objects.get(pk=run_id), timeout=180)
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.started_by is None and run.params["seed"] == 7
