"""Runs end to end through a real Celery worker and Redis: start task, chunk chord, finalize, watchdog."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from crm_bank.runs import services
from crm_bank.runs.models import Run, RunChunk
from crm_bank.runs.selectors import current_run
from crm_bank.runs.services import run_prepare, run_start
from crm_bank.runs.tasks import run_chunk_task, runs_watchdog_task
from tests.runs.conftest import KIND, User
from tests.runs.waiting import wait_until_finished

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]




def test_run_through_worker_publishes_then_second_run_supersedes(register_kind, count_users, five_users, worker):
    register_kind(count_users.kind())

    first = wait_until_finished(run_start(kind=KIND))

    assert first.status == Run.Status.SUCCEEDED, first.error
    assert first.progress == 100 and first.chunks_done == first.chunks_total == 3
    assert first.metrics == {"users": User.objects.count()} == {"users": 5}
    assert not RunChunk.objects.filter(run=first).exclude(status=RunChunk.Status.DONE).exists()
    assert current_run(kind=KIND) == first

    second = wait_until_finished(run_start(kind=KIND))

    assert second.status == Run.Status.SUCCEEDED and current_run(kind=KIND) == second
    first.refresh_from_db()
    assert first.status == Run.Status.SUPERSEDED
    # Each step once per run, although the chord and the last chunk both ask for a finalize.
    assert count_users.calls == {"prepare": 2, "process_chunk": 6, "finish": 2}


def test_run_whose_worker_died_is_failed_by_watchdog_and_previous_stays_current(
    register_kind, count_users, five_users, worker,
):
    register_kind(count_users.kind())
    previous = wait_until_finished(run_start(kind=KIND))
    # A run claimed and split, whose worker then died: no chunk ever reported back.
    dead = Run.objects.create(kind=KIND)
    (lo, hi), *_ = run_prepare(run_id=dead.pk)
    Run.objects.filter(pk=dead.pk).update(heartbeat_at=timezone.now() - services.STALE_AFTER - datetime.timedelta(1))

    assert runs_watchdog_task.delay().get(timeout=20) == [dead.pk]

    dead.refresh_from_db()
    assert dead.status == Run.Status.FAILED and dead.error.startswith("no heartbeat since ")
    assert current_run(kind=KIND) == previous
    # A chunk of the dead run delivered late (a redelivery) changes nothing.
    run_chunk_task.delay(dead.pk, lo, hi).get(timeout=20)
    assert RunChunk.objects.get(run=dead, lo=lo).status == RunChunk.Status.PENDING
    assert current_run(kind=KIND) == previous and Run.objects.get(pk=previous.pk).status == Run.Status.SUCCEEDED
