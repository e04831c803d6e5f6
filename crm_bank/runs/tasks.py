"""Thin Celery tasks: ids in, one service call, and the next step enqueued after it commits.

The work of a run is a chord: one task per id range (never per customer), all ranges of a run
spread over every worker that listens, then the finalize task once they are done.
"""

from __future__ import annotations

from celery import Task, chord, group, shared_task

from crm_bank.runs import services

# A finalize that finds chunks still pending asks again this often, for longer than it takes
# the watchdog to fail a run whose chunks were lost (after which it has nothing to do).
FINALIZE_RETRY_SECONDS = 5
FINALIZE_MAX_RETRIES = int(services.STALE_AFTER.total_seconds() // FINALIZE_RETRY_SECONDS) * 2


@shared_task(name=services.START_TASK)
def run_start_task(run_id: int) -> None:
    ranges = services.run_prepare(run_id=run_id)
    if ranges is None:  # a duplicate delivery, or prepare failed (the run says why)
        return
    chunks = group(run_chunk_task.si(run_id, lo, hi) for lo, hi in ranges)
    chord(chunks, run_finalize_task.si(run_id)).apply_async()


@shared_task(name=services.CHUNK_TASK)
def run_chunk_task(run_id: int, lo: int, hi: int) -> None:
    if services.run_chunk_complete(run_id=run_id, lo=lo, hi=hi):
        # Also finalize from the chunk that completed the set: django-celery-results' chord counter
        # counts a redelivered chunk twice and then never calls the callback. Two finalizes are
        # harmless (the second finds the run published).
        run_finalize_task.delay(run_id)


@shared_task(bind=True, name=services.FINALIZE_TASK, max_retries=FINALIZE_MAX_RETRIES)
def run_finalize_task(self: Task, run_id: int) -> None:
    if services.run_finalize(run_id=run_id) is services.FinalizeOutcome.WAITING:
        raise self.retry(countdown=FINALIZE_RETRY_SECONDS)


@shared_task(name="runs.watchdog")
def runs_watchdog_task() -> list[int]:
    return services.runs_watchdog()
