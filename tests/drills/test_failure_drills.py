"""Failure drills, automated against a real Celery worker process, Redis and PostgreSQL:

- `kill -9` of the worker during a segmentation run's chunk, and during its finish-and-publish
  step: the previous results stay current, the watchdog fails the run once its heartbeat is older
  than the heartbeat period, a re-run completes, and no (run, customer) row is there twice;
- a Redis restart during a run (persistence on, as in the compose stack): the work resumes and
  the run publishes; nothing is left running; a restart that loses Redis's data while a run waits
  queued: the watchdog sends its start again and it publishes;
- the same start, chunk and finalize messages delivered twice, and a second run of the kind asked
  for while one runs: exactly one run publishes, each chunk's rows once.

A PostgreSQL lock holds the worker at the step the drill wants (its backend waits on the lock):
the kill lands there every time, not by luck of timing.
"""

from __future__ import annotations

import datetime
import subprocess
import sys

import pytest
from django.db.models import Count
from django.utils import timezone

from crm_bank.runs.errors import RunError
from crm_bank.runs.models import CurrentRun, Run, RunChunk
from crm_bank.runs.selectors import current_run
from crm_bank.runs.services import STALE_AFTER, runs_watchdog
from crm_bank.runs.tasks import run_chunk_task, run_finalize_task, run_start_task
from segmentation.models import CustomerFeatures, SegmentMembership
from segmentation.segments import SEGMENTATION, segmentation_start
from tests.drills.conftest import (
    BASE_DIR,
    backend_gone,
    backends_waiting_on_a_lock,
    process_env,
    table_locked,
    wait_for,
)
from tests.runs.waiting import wait_until_finished
from tests.segmentation.segment_bank import AS_OF, segment_bank_fixture  # noqa: F401 - the fixture

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
PARAMS = {"as_of": AS_OF, "k": 3, "seed": 7}


def _after_the_heartbeat_period() -> datetime.datetime:
    return timezone.now() + STALE_AFTER + datetime.timedelta(seconds=1)


def _no_row_twice(run: Run) -> None:
    for model in (CustomerFeatures, SegmentMembership):
        doubled = model.objects.filter(run=run).values("customer_id").annotate(n=Count("pk")).filter(n__gt=1)
        assert not doubled.exists(), model.__name__


def _held_then_killed(worker, table: str, held: callable) -> tuple[Run, int]:
    """Starts a run the worker takes, waits until the worker waits on `table`'s lock at the step
    `held(run)` says, kills the worker with SIGKILL, and returns the run and the dead worker's backend."""
    with table_locked(table):
        run = segmentation_start(**PARAMS)
        waiting = wait_for(backends_waiting_on_a_lock, timeout=60, what=f"the worker to wait on {table}")
        run.refresh_from_db()
        assert run.status == Run.Status.RUNNING and held(run), (run.status, run.chunks_done, run.chunks_total)
        worker.kill()
    return run, waiting[0]


@pytest.mark.usefixtures("segment_bank")
def test_kill_9_during_a_chunk(worker_process):
    previous = segmentation_start(**PARAMS, sync=True)
    assert previous.status == Run.Status.SUCCEEDED

    run, backend = _held_then_killed(worker_process(), CustomerFeatures._meta.db_table,
                                     held=lambda run: run.chunks_total > 0 and run.chunks_done == 0)
    backend_gone(backend)

    assert current_run(kind=SEGMENTATION) == previous
    assert not CustomerFeatures.objects.filter(run=run).exists()  # the chunk's transaction died with it
    assert runs_watchdog(now=_after_the_heartbeat_period()) == [run.pk]
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED and run.error.startswith("no heartbeat since")
    assert current_run(kind=SEGMENTATION) == previous

    worker_process()
    rerun = wait_until_finished(segmentation_start(**PARAMS), timeout=120)
    assert rerun.status == Run.Status.SUCCEEDED, rerun.error
    assert current_run(kind=SEGMENTATION) == rerun
    _no_row_twice(rerun)


@pytest.mark.usefixtures("segment_bank")
def test_kill_9_during_the_publish_step(worker_process):
    previous = segmentation_start(**PARAMS, sync=True)

    run, backend = _held_then_killed(worker_process(), CurrentRun._meta.db_table,
                                     held=lambda run: run.chunks_total > 0 and run.chunks_done == run.chunks_total)
    backend_gone(backend)

    assert current_run(kind=SEGMENTATION) == previous
    run.refresh_from_db()
    assert run.status == Run.Status.RUNNING  # the publish rolled back with the dead connection
    assert runs_watchdog(now=_after_the_heartbeat_period()) == [run.pk]
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED and current_run(kind=SEGMENTATION) == previous
    assert Run.objects.get(pk=previous.pk).status == Run.Status.SUCCEEDED
    _no_row_twice(run)

    worker_process()
    rerun = wait_until_finished(segmentation_start(**PARAMS), timeout=120)
    assert rerun.status == Run.Status.SUCCEEDED and current_run(kind=SEGMENTATION) == rerun
    _no_row_twice(rerun)


@pytest.mark.usefixtures("segment_bank")
def test_redis_restart_during_a_run_resumes_the_work(worker_process, drill_redis):
    worker_process(REDIS_URL=drill_redis.url)
    with table_locked(CustomerFeatures._meta.db_table):
        # Asked for as an operator would, from a process that talks to the drill's Redis.
        subprocess.run([sys.executable, "manage.py", "run_segmentation", "--as-of", AS_OF.isoformat(), "--k", "3",
                        "--seed", "7"], cwd=BASE_DIR, env=process_env(REDIS_URL=drill_redis.url), check=True,
                       capture_output=True, timeout=120)
        wait_for(backends_waiting_on_a_lock, timeout=60, what="the worker to reach its chunk")
        drill_redis()  # shut down and started again, on the same append-only file
    run = Run.objects.filter(kind=SEGMENTATION).latest("pk")
    run = wait_until_finished(run, timeout=120)
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert current_run(kind=SEGMENTATION) == run
    assert not Run.objects.filter(status__in=Run.ACTIVE).exists()
    _no_row_twice(run)


@pytest.mark.usefixtures("segment_bank")
def test_a_run_queued_when_redis_lost_its_data_is_sent_again_by_the_watchdog(worker_process, drill_redis_volatile):
    """Redis keeping nothing on disk restarts with the run's start message in it: the run waits
    queued until the watchdog's round sends it again, then a worker takes it and it publishes."""
    env = process_env(REDIS_URL=drill_redis_volatile.url)
    subprocess.run([sys.executable, "manage.py", "run_segmentation", "--as-of", AS_OF.isoformat(), "--k", "3",
                    "--seed", "7"], cwd=BASE_DIR, env=env, check=True, capture_output=True, timeout=120)
    run = Run.objects.filter(kind=SEGMENTATION).latest("pk")
    drill_redis_volatile()  # the message is gone with the data
    worker = worker_process(REDIS_URL=drill_redis_volatile.url)
    wait_for(lambda: "ready" in worker.log.read_text(), timeout=60, what="the worker to listen")
    assert Run.objects.get(pk=run.pk).status == Run.Status.QUEUED

    # The watchdog's round (every minute by beat) once REQUEUE_AFTER has passed.
    round_ = ("import datetime; from django.utils import timezone; from crm_bank.runs import services; "
              "later = timezone.now() + services.REQUEUE_AFTER + datetime.timedelta(seconds=1); "
              "print(services.runs_requeue(now=later))")
    answer = subprocess.run([sys.executable, "manage.py", "shell", "-c", round_], cwd=BASE_DIR, env=env,
                            check=True, capture_output=True, text=True, timeout=120)
    assert answer.stdout.strip().splitlines()[-1] == f"[{run.pk}]"

    run = wait_until_finished(run, timeout=120)
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert current_run(kind=SEGMENTATION) == run and not Run.objects.filter(status__in=Run.ACTIVE).exists()
    _no_row_twice(run)


@pytest.mark.usefixtures("segment_bank")
def test_duplicate_deliveries_and_a_second_run_at_once_publish_exactly_once(worker_process):
    worker_process()
    with table_locked(CustomerFeatures._meta.db_table):
        run = segmentation_start(**PARAMS)
        wait_for(backends_waiting_on_a_lock, timeout=60, what="the worker to reach its chunk")
        with pytest.raises(RunError):  # one run of a kind at a time: the second is refused
            segmentation_start(**PARAMS)
        run_start_task.delay(run.pk)  # the start message again, while the first is at work
    run = wait_until_finished(run, timeout=120)
    assert run.status == Run.Status.SUCCEEDED
    chunks = list(RunChunk.objects.filter(run=run).values_list("lo", "hi"))
    for lo, hi in chunks:  # every chunk and the finalize delivered once more, after the publish
        run_chunk_task.delay(run.pk, lo, hi).get(timeout=30)
    run_finalize_task.delay(run.pk).get(timeout=30)
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED and run.chunks_done == run.chunks_total == len(chunks)
    assert Run.objects.filter(kind=SEGMENTATION, status=Run.Status.SUCCEEDED).count() == 1
    assert current_run(kind=SEGMENTATION) == run
    _no_row_twice(run)
