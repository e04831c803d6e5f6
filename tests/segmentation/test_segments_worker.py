"""The segmentation run end to end through a real Celery worker and Redis."""

from __future__ import annotations

import pytest

from crm_bank.runs.models import Run
from crm_bank.runs.selectors import current_run
from segmentation.models import LearnedSegment, SegmentMembership
from segmentation.segments import SEGMENTATION, segmentation_start
from segmentation.tasks import segmentation_nightly
from tests.runs.waiting import wait_until_finished
from tests.segmentation.segment_bank import AS_OF, PER_KIND, segment_bank_fixture  # noqa: F401

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_segmentation_run_through_worker_publishes_segments(segment_bank, worker):
    from segmentation.models import RuleSegment

    RuleSegment.objects.create(name="Retirees", rule="age >= 65")
    queued = segmentation_start(as_of=AS_OF, k=3)

    run = wait_until_finished(queued)

    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.chunks_done == run.chunks_total >= 1
    assert SegmentMembership.objects.filter(run=run).count() == 3 * PER_KIND
    assert list(LearnedSegment.objects.filter(run=run).values_list("size", flat=True)) == [PER_KIND] * 3
    assert list(run.metrics["rule_sizes"].values()) == [PER_KIND]
    assert current_run(kind=SEGMENTATION) == run

    # A second run on the worker reads the published run's memberships ahead, on a connection of its
    # own, for its transition matrix: the same data and seed keep every customer where they were.
    again = wait_until_finished(segmentation_start(as_of=AS_OF, k=3))
    assert again.status == Run.Status.SUCCEEDED, again.error
    transitions = again.metrics["transitions"]
    assert transitions["counts"] == [[PER_KIND if a == b else 0 for b in range(3)] for a in range(3)]
    assert transitions["left"] == [0, 0, 0] and transitions["entered"] == [0, 0, 0]
    assert again.metrics["previous_run"] == run.pk and current_run(kind=SEGMENTATION) == again


def test_nightly_segmentation_through_worker(segment_bank, worker):
    run_id = segmentation_nightly.delay().get(timeout=20)

    run = wait_until_finished(Run.objects.get(pk=run_id), timeout=120)
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.started_by is None and run.metrics["k"] == 3
