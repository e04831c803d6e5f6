"""The life of a run: start, claim, chunks, finish, publish; or fail, by a step or the watchdog.

Every state change is a conditional UPDATE that checks the status it expects (healthchecks'
`sendalerts`), so a duplicate task delivery, a race between two workers or a late chunk of a
failed run changes nothing. Celery stays in tasks.py: these functions take ids, commit their own
work and return what the caller should enqueue next; `run_start(sync=True)` drives the same
steps in-process.
"""

from __future__ import annotations

import datetime
import enum
import json
import logging

from celery import current_app
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record
from crm_bank.bulk import tables_vacuum
from crm_bank.errors import lost_connections_close
from crm_bank.runs.errors import RunAlreadyActive, RunError, RunParamsInvalid
from crm_bank.runs.models import CurrentRun, Run, RunChunk
from crm_bank.runs.params import as_of_check
from crm_bank.runs.registry import kind_get

logger = logging.getLogger(__name__)

# Task names, shared with tasks.py (which imports this module, never the other way round).
START_TASK = "runs.start"
CHUNK_TASK = "runs.chunk"
FINALIZE_TASK = "runs.finalize"

# A running run whose heartbeat is older than this is taken for dead. Chunks beat when they
# finish; a step that works longer than this on one chunk calls run_heartbeat() as it goes.
STALE_AFTER = datetime.timedelta(minutes=10)
# A queued run that no worker has claimed by then was lost on its way (broker down, purged queue).
QUEUED_AFTER = datetime.timedelta(hours=1)
# A queued run unclaimed this long has its start message sent again (a broker restarted without its
# data lost it; while workers are merely busy the copies cost nothing: only one claim succeeds).
REQUEUE_AFTER = datetime.timedelta(minutes=5)

_ONE_ACTIVE_PER_KIND = "runs_one_active_per_kind"


class FinalizeOutcome(enum.Enum):
    PUBLISHED = "published"
    WAITING = "waiting"  # chunks still pending, or another worker is finishing: ask again later
    NOTHING_TO_DO = "nothing to do"  # not running (already published, failed, never claimed)
    FAILED = "failed"


def run_start(
    *,
    kind: str,
    params: dict | None = None,
    as_of: datetime.date | None = None,
    started_by: AbstractBaseUser | None = None,
    sync: bool = False,
) -> Run:
    """Queues a run of `kind` and returns it; with `sync`, runs it to the end in this process.

    Refused, with nothing written, when the kind is unknown, the params are invalid or another
    run of the kind is queued or running (RunError and its subclasses). A refused second run does
    not wait: the caller tries again when the first is over.
    """
    run_kind = kind_get(kind)
    params = dict(params or {})
    if run_kind.clean_params is not None:
        params = run_kind.clean_params(params)
    try:
        json.dumps(params)
    except (TypeError, ValueError) as exc:
        raise RunParamsInvalid(_("Run parameters must be plain JSON values: %(error)s") % {"error": exc}) from None
    as_of_check(as_of)
    if as_of is None and run_kind.default_as_of is not None:
        as_of = run_kind.default_as_of()
    try:
        with transaction.atomic():
            run = Run.objects.create(
                kind=kind, params=params, as_of=as_of, code_version=run_kind.version,
                started_by=started_by if started_by is not None and started_by.is_authenticated else None,
            )
            audit_record(
                actor=started_by, action=AuditEvent.Action.CREATE, outcome=AuditEvent.Outcome.ALLOWED,
                object_type="run", object_id=run.pk,
                detail={"kind": kind, "as_of": as_of.isoformat() if as_of else None, "sync": sync},
            )
            if not sync:
                transaction.on_commit(lambda: _enqueue_start(run_id=run.pk))
    except IntegrityError as exc:
        if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) != _ONE_ACTIVE_PER_KIND:
            raise
        active = Run.objects.filter(kind=kind, status__in=Run.ACTIVE).first()
        raise RunAlreadyActive(
            _("A %(kind)s run (#%(run)s) is already queued or running; start again when it is over.")
            % {"kind": kind, "run": active.pk if active else "?"}
        ) from None
    if sync:
        _run_in_process(run_id=run.pk)
        run.refresh_from_db()
    return run


def _enqueue_start(*, run_id: int) -> None:
    # By name: tasks.py imports this module, and the broker needs only the name and the id.
    try:
        current_app.send_task(START_TASK, args=[run_id])
    except Exception as exc:
        run_fail(run_id=run_id, error=f"could not be queued: {exc}")
        # A refusal like any other (the form's message, the command's error), not a server error.
        raise RunError(
            _("Run #%(run)s could not be queued (the task broker did not answer: %(error)s); try again shortly.")
            % {"run": run_id, "error": exc}
        ) from exc


def _run_in_process(*, run_id: int) -> None:
    """The Celery path's steps, one after the other (`manage.py … --sync`, tests)."""
    ranges = run_prepare(run_id=run_id)
    for lo, hi in ranges or []:
        run_chunk_complete(run_id=run_id, lo=lo, hi=hi)
    run_finalize(run_id=run_id)


def run_claim(*, run_id: int) -> bool:
    """QUEUED → RUNNING; False when the run was already claimed (a duplicate start), or is over.

    A run another worker is claiming (its claim not yet committed: it commits with the run's
    prepare, which for model training is the training) counts as claimed: skipped, not waited for,
    so a duplicate start does not hold a worker process for the length of someone else's prepare.
    """
    now = timezone.now()
    return _queued_run_update(run_id, status=Run.Status.RUNNING, started_at=now, heartbeat_at=now)


def _queued_run_update(run_id: int, **fields: object) -> bool:
    """Sets `fields` on a queued run; False when it is not queued or another transaction holds it
    (a worker's claim, not yet committed): skipped, never waited for."""
    with transaction.atomic():
        if not Run.objects.select_for_update(skip_locked=True).filter(pk=run_id, status=Run.Status.QUEUED).exists():
            return False
        return Run.objects.filter(pk=run_id, status=Run.Status.QUEUED).update(**fields) == 1


def run_prepare(*, run_id: int) -> list[tuple[int, int]] | None:
    """Claims the run and records its chunks; returns the ranges to fan out, or None if not claimed.

    Claim and chunks commit together: a worker that dies in `prepare` leaves the run queued, and
    the redelivered start task claims it again.
    """
    try:
        with transaction.atomic():
            if not run_claim(run_id=run_id):
                return None
            run = Run.objects.get(pk=run_id)
            ranges = [(int(lo), int(hi)) for lo, hi in kind_get(run.kind).prepare(run)]
            if not ranges:
                # An empty run would publish "no results" over the last good ones.
                raise RunError("nothing to process")
            RunChunk.objects.bulk_create(RunChunk(run=run, lo=lo, hi=hi) for lo, hi in ranges)
            # A long prepare (training models) must not look like a dead run the moment it commits.
            Run.objects.filter(pk=run_id).update(chunks_total=len(ranges), heartbeat_at=timezone.now())
    except Exception as exc:
        _fail_from_exception(run_id=run_id, step="prepare", exc=exc)
        return None
    return ranges


def run_chunk_complete(*, run_id: int, lo: int, hi: int) -> bool:
    """Processes one chunk unless it is done or being done; True when it was the run's last one.

    The chunk's row is locked for the whole step and marked done in the same transaction as the
    step's writes: a duplicate delivery waits for nothing (skip_locked) and finds the chunk done
    or busy, and a step that fails writes nothing.
    """
    try:
        with transaction.atomic():
            chunk = (
                # of=self: lock the chunk, not the run row every chunk of the run joins to.
                RunChunk.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(run_id=run_id, lo=lo, hi=hi, status=RunChunk.Status.PENDING, run__status=Run.Status.RUNNING)
                .select_related("run")
                .first()
            )
            if chunk is None:
                return False
            chunk.rows = kind_get(chunk.run.kind).process_chunk(chunk.run, lo, hi)
            chunk.status = RunChunk.Status.DONE
            chunk.finished_at = timezone.now()
            chunk.save(update_fields=["rows", "status", "finished_at"])
            # chunks_done counts only first completions, so it reaches chunks_total exactly once. A
            # run failed while this chunk worked (the watchdog, another chunk) keeps none of its rows:
            # they would land after its rows were pruned, and stay for good.
            if not Run.objects.filter(pk=run_id, status=Run.Status.RUNNING).update(
                chunks_done=F("chunks_done") + 1, heartbeat_at=chunk.finished_at,
            ):
                transaction.set_rollback(True)
                return False
            run = Run.objects.only("chunks_done", "chunks_total").get(pk=run_id)
            return run.chunks_done >= run.chunks_total
    except Exception as exc:
        _fail_from_exception(run_id=run_id, step=f"chunk {lo}-{hi}", exc=exc)
        return False


def run_heartbeat(*, run_id: int) -> None:
    """For a step that works longer than STALE_AFTER on one chunk: 'still alive'."""
    Run.objects.filter(pk=run_id, status=Run.Status.RUNNING).update(heartbeat_at=timezone.now())


def run_finalize(*, run_id: int) -> FinalizeOutcome:
    """Once every chunk is done: the kind's set-wide `finish`, then publish, in one transaction.

    The run's row stays locked throughout, so a second finalize (the chord's and the last
    chunk's, or a redelivery) skips it, and the watchdog leaves a run that is being finished alone.
    """
    try:
        with transaction.atomic():
            run = Run.objects.select_for_update(skip_locked=True).filter(pk=run_id).first()
            if run is None:
                locked = Run.objects.filter(pk=run_id, status=Run.Status.RUNNING).exists()
                return FinalizeOutcome.WAITING if locked else FinalizeOutcome.NOTHING_TO_DO
            if run.status != Run.Status.RUNNING:
                return FinalizeOutcome.NOTHING_TO_DO
            if run.chunks.filter(status=RunChunk.Status.PENDING).exists():
                return FinalizeOutcome.WAITING
            metrics = kind_get(run.kind).finish(run)
            run_publish(run_id=run_id, metrics=metrics)
    except Exception as exc:
        _fail_from_exception(run_id=run_id, step="finish", exc=exc)
        return FinalizeOutcome.FAILED
    try:  # housekeeping: the run is published whatever happens here
        run_results_prune(kind=run.kind)
        tables_vacuum(*kind_get(run.kind).result_tables)
    except Exception:
        logger.exception("Run %s: pruning or vacuuming the result tables failed", run_id)
    return FinalizeOutcome.PUBLISHED


def run_results_prune(*, kind: str) -> list[int]:
    """Deletes the per-customer result rows of the kind's failed runs and of its published runs
    beyond the newest `keep_published`; returns the runs pruned. Never touches the current run, a
    queued or running one, or one the kind says is still in use. Each run's rows go in their own
    transaction."""
    run_kind = kind_get(kind)
    if not run_kind.result_tables:
        return []
    published = Run.objects.filter(kind=kind, status__in=[Run.Status.SUCCEEDED, Run.Status.SUPERSEDED])
    newest = published.order_by("-finished_at", "-id").values_list("id", flat=True)
    kept = list(newest[: max(1, run_kind.keep_published)])
    current = CurrentRun.objects.filter(kind=kind).values_list("run_id", flat=True)
    stale = (
        Run.objects.filter(kind=kind, results_pruned_at__isnull=True)
        # A failed run only once a chunk still at work when it failed would have finished or died.
        .filter(Q(status=Run.Status.FAILED, finished_at__lt=timezone.now() - STALE_AFTER)
                | Q(status=Run.Status.SUPERSEDED))
        .exclude(pk__in=kept).exclude(pk__in=current)
        .values_list("id", flat=True)
    )
    if run_kind.runs_in_use is not None:
        stale = stale.exclude(pk__in=list(run_kind.runs_in_use()))
    pruned = []
    for run_id in stale:
        with transaction.atomic(), connection.cursor() as cursor:
            for table in run_kind.result_tables:
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)} WHERE run_id = %s", [run_id])
            Run.objects.filter(pk=run_id).update(results_pruned_at=timezone.now())
        pruned.append(run_id)
    return pruned


def run_publish(*, run_id: int, metrics: dict) -> bool:
    """RUNNING → SUCCEEDED, the previous current run → SUPERSEDED, and the pointer flips last.

    One transaction: a reader sees the old run current or the new one, never half of either; if
    anything in here fails (the kind's `publish` step included), the old run stays current.
    """
    with transaction.atomic():
        now = timezone.now()
        if not Run.objects.filter(pk=run_id, status=Run.Status.RUNNING).update(
            status=Run.Status.SUCCEEDED, metrics=metrics, finished_at=now, heartbeat_at=now,
        ):
            return False
        run = Run.objects.get(pk=run_id)
        publish_step = kind_get(run.kind).publish
        if publish_step is not None:
            publish_step(run)
        # The lock orders two publishes of one kind (the unique index already rules them out).
        previous = CurrentRun.objects.select_for_update().filter(kind=run.kind).first()
        if previous is not None:
            Run.objects.filter(pk=previous.run_id, status=Run.Status.SUCCEEDED).update(
                status=Run.Status.SUPERSEDED,
            )
        CurrentRun.objects.update_or_create(kind=run.kind, defaults={"run": run, "published_at": now})
    return True


def run_fail(*, run_id: int, error: str) -> bool:
    """Queued or running → FAILED with the reason. Never touches the current pointer."""
    return Run.objects.filter(pk=run_id, status__in=Run.ACTIVE).update(
        status=Run.Status.FAILED, error=error, finished_at=timezone.now(),
    ) == 1


def _fail_from_exception(*, run_id: int, step: str, exc: BaseException) -> None:
    logger.exception("Run %s failed in %s", run_id, step)
    # A step that failed because the database dropped its connection (a restart, a fail-over) left
    # that connection unusable: close it, so the failure is recorded on a new one, now.
    lost_connections_close()
    # A step's own RunError is written for the reader; anything else is named by its type.
    reason = str(exc) if isinstance(exc, RunError) else f"{type(exc).__name__}: {exc}"
    run_fail(run_id=run_id, error=f"{step}: {reason}")


def runs_watchdog(
    *,
    now: datetime.datetime | None = None,
    stale_after: datetime.timedelta = STALE_AFTER,
    queued_after: datetime.timedelta = QUEUED_AFTER,
) -> list[int]:
    """Fails running runs that stopped beating and queued runs never claimed; returns their ids.
    Queued runs unclaimed for REQUEUE_AFTER have their start message sent again first (runs_requeue).

    Their partial results stay keyed to them and unpublished, so the current run stays current.
    A run whose row is locked is being finished by a live worker and is left alone.
    """
    now = now or timezone.now()
    runs_requeue(now=now, requeue_after=REQUEUE_AFTER, queued_after=queued_after)
    failed = []
    with transaction.atomic():
        silent = Run.objects.select_for_update(skip_locked=True).filter(
            status=Run.Status.RUNNING, heartbeat_at__lt=now - stale_after,
        )
        for run in silent:
            Run.objects.filter(pk=run.pk).update(
                status=Run.Status.FAILED, finished_at=now,
                error=f"no heartbeat since {run.heartbeat_at.isoformat(timespec='seconds')}",
            )
            failed.append(run.pk)
        lost = Run.objects.select_for_update(skip_locked=True).filter(
            status=Run.Status.QUEUED, created_at__lt=now - queued_after,
        )
        for run in lost:
            Run.objects.filter(pk=run.pk).update(
                status=Run.Status.FAILED, finished_at=now,
                error=f"not started since it was queued at {run.created_at.isoformat(timespec='seconds')}",
            )
            failed.append(run.pk)
    for run_id in failed:
        logger.warning("Run %s failed by the watchdog", run_id)
    return failed


def runs_requeue(
    *, now: datetime.datetime, requeue_after: datetime.timedelta = REQUEUE_AFTER,
    queued_after: datetime.timedelta = QUEUED_AFTER,
) -> list[int]:
    """Sends the start message again for queued runs that no worker claimed within `requeue_after`
    of being queued or last sent (a queued run's heartbeat_at marks the last send); returns them.
    A second message is harmless: the claim is conditional. A broker still down is logged and tried
    again at the next round; the run fails only at `queued_after` (runs_watchdog)."""
    waiting = Run.objects.filter(status=Run.Status.QUEUED, created_at__gte=now - queued_after).filter(
        Q(heartbeat_at__isnull=True, created_at__lt=now - requeue_after) | Q(heartbeat_at__lt=now - requeue_after)
    ).values_list("pk", flat=True)
    requeued = []
    for run_id in waiting:
        if not _queued_run_update(run_id, heartbeat_at=now):
            continue  # claimed meanwhile, or being claimed
        try:
            current_app.send_task(START_TASK, args=[run_id])
        except Exception:
            logger.exception("Run %s: its start message could not be sent again", run_id)
            continue
        logger.warning("Run %s was not claimed: its start message was sent again", run_id)
        requeued.append(run_id)
    return requeued
