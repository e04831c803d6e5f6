"""The value-scoring run end to end through a real Celery worker and Redis."""

from __future__ import annotations

import pytest

from crm_bank.runs.models import Run
from crm_bank.runs.selectors import current_run
from segmentation.models import CustomerValue
from segmentation.services import VALUE_SCORING, value_scoring_start
from segmentation.tasks import value_scoring_nightly
from tests.runs.waiting import wait_until_finished
from tests.segmentation.conftest import AS_OF

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]




def test_value_run_through_worker_publishes_tiers(small_bank, worker):
    run = wait_until_finished(value_scoring_start(as_of=AS_OF, params={"chunk_size": 1}))

    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.chunks_done == run.chunks_total == 4  # one customer per chunk, shared by two threads
    assert run.metrics["tier_counts"] == {"A": 2, "B": 0, "C": 1}
    assert CustomerValue.objects.filter(run=run).count() == 3
    assert current_run(kind=VALUE_SCORING) == run


def test_nightly_task_queues_a_run_as_of_the_latest_transaction(small_bank, worker):
    run_id = value_scoring_nightly.delay().get(timeout=20)

    run = wait_until_finished(Run.objects.get(pk=run_id))
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.as_of.isoformat() == "2024-07-05" and run.started_by is None
