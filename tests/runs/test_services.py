"""The run life cycle, step by step, in-process: claim, chunks, finish, publish, failure, watchdog."""

from __future__ import annotations

import datetime
import threading
import time

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from crm_bank.audit.models import AuditEvent
from crm_bank.runs import services
from crm_bank.runs.errors import RunAlreadyActive, RunError, RunKindUnknown, RunParamsInvalid
from crm_bank.runs.models import CurrentRun, Run, RunChunk
from crm_bank.runs.selectors import current_run, run_progress
from crm_bank.runs.services import (
    FinalizeOutcome,
    run_chunk_complete,
    run_claim,
    run_fail,
    run_finalize,
    run_prepare,
    run_start,
    runs_watchdog,
)
from tests.runs.conftest import KIND, User
from tests.runs.factories import RunFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def kind(register_kind, count_users, five_users):
    register_kind(count_users.kind())
    return count_users



def started_in_thread(step) -> tuple[threading.Thread, list]:
    """Starts `step()` in a thread of its own (its own database connection, closed after); the
    thread and the list its result lands in."""
    results: list = []

    def run() -> None:
        try:
            results.append(step())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, results

def published(*, sync: bool = True) -> Run:
    run = run_start(kind=KIND, sync=sync)
    assert run.status == Run.Status.SUCCEEDED, run.error
    return run


# Start and publish

def test_run_start_sync_runs_every_step_and_publishes(kind):
    run = published()

    assert run.metrics == {"users": User.objects.count()}
    assert run.progress == 100 and run.chunks_done == run.chunks_total == 3  # 5 users, 2 per chunk
    assert run.code_version == "test-1" and run.started_at and run.finished_at
    assert current_run(kind=KIND) == run
    assert kind.calls == {"prepare": 1, "process_chunk": 3, "finish": 1}


def test_run_start_second_run_supersedes_first(kind):
    first = published()
    second = published()

    first.refresh_from_db()
    assert first.status == Run.Status.SUPERSEDED
    assert current_run(kind=KIND) == second
    assert CurrentRun.objects.count() == 1


def test_run_start_records_who_started_it(kind, bank_admin):
    run = run_start(kind=KIND, started_by=bank_admin, as_of=datetime.date(1994, 3, 30), sync=True)

    assert run.started_by == bank_admin and run.as_of == datetime.date(1994, 3, 30)
    event = AuditEvent.objects.get(object_type="run", object_id=str(run.pk))
    assert event.actor == bank_admin and event.detail["kind"] == KIND and event.detail["as_of"] == "1994-03-30"


def test_run_start_uses_the_kinds_default_as_of(register_kind, count_users, five_users):
    register_kind(count_users.kind(default_as_of=lambda: datetime.date(2010, 11, 30)))

    assert run_start(kind=KIND, sync=True).as_of == datetime.date(2010, 11, 30)


def test_run_start_queues_the_start_task_only_after_commit(kind, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr(services.current_app, "send_task", lambda name, args: sent.append((name, args)))

    with django_capture_on_commit_callbacks(execute=True):
        run = run_start(kind=KIND)
        assert sent == []

    assert sent == [(services.START_TASK, [run.pk])]
    assert run.status == Run.Status.QUEUED


def test_run_start_broker_down_fails_the_run_and_frees_the_kind(kind, django_capture_on_commit_callbacks, monkeypatch):
    def broker_down(name, args):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(services.current_app, "send_task", broker_down)
    # A RunError, which the "Run now" form and the commands show as a message (it was a server error).
    with pytest.raises(RunError, match="could not be queued .*broker unreachable"), \
            django_capture_on_commit_callbacks(execute=True):
        run = run_start(kind=KIND)

    run = Run.objects.get()
    assert run.status == Run.Status.FAILED and "broker unreachable" in run.error
    assert published()  # the kind is free again


# Claim: one winner

def test_run_claim_twice_only_first_wins(kind):
    run = RunFactory()

    assert run_claim(run_id=run.pk) is True
    assert run_claim(run_id=run.pk) is False
    run.refresh_from_db()
    assert run.status == Run.Status.RUNNING and run.heartbeat_at is not None


@pytest.mark.django_db(transaction=True)
def test_run_prepare_concurrent_starts_only_one_claims(kind):
    run = RunFactory()
    barrier = threading.Barrier(2)
    results = []

    def start() -> None:
        barrier.wait()
        try:
            results.append(run_prepare(run_id=run.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results, key=bool) == [None, [(lo, hi) for lo, hi in RunChunk.objects.values_list("lo", "hi")]]
    assert kind.calls["prepare"] == 1 and RunChunk.objects.count() == 3



@pytest.mark.django_db(transaction=True)
def test_a_duplicate_start_does_not_wait_for_the_first_claims_prepare(register_kind, count_users, five_users):
    """The claim commits with the prepare (for model training: the training). A duplicate start
    skips the run being claimed instead of holding its worker until that prepare ends."""
    preparing, release = threading.Event(), threading.Event()

    def slow_prepare(run: Run) -> list[tuple[int, int]]:
        preparing.set()
        release.wait(timeout=30)
        return count_users.prepare(run)

    register_kind(count_users.kind(prepare=slow_prepare))
    run = RunFactory()
    thread, first = started_in_thread(lambda: run_prepare(run_id=run.pk))
    try:
        assert preparing.wait(timeout=30)
        started = time.monotonic()
        assert run_prepare(run_id=run.pk) is None
        assert time.monotonic() - started < 5  # it waited for the first prepare before
    finally:
        release.set()
        thread.join()
    assert first[0] and Run.objects.get(pk=run.pk).status == Run.Status.RUNNING


def test_run_prepare_duplicate_start_delivery_does_nothing(kind):
    run = RunFactory()

    ranges = run_prepare(run_id=run.pk)
    assert run_prepare(run_id=run.pk) is None

    assert len(ranges) == 3 and RunChunk.objects.filter(run=run).count() == 3
    assert kind.calls["prepare"] == 1


# Chunks

def test_run_chunk_complete_duplicate_delivery_is_ignored(kind):
    run = RunFactory()
    (lo, hi), *_ = run_prepare(run_id=run.pk)

    assert run_chunk_complete(run_id=run.pk, lo=lo, hi=hi) is False  # done, not the last one
    assert run_chunk_complete(run_id=run.pk, lo=lo, hi=hi) is False

    run.refresh_from_db()
    assert kind.calls["process_chunk"] == 1
    assert run.chunks_done == 1 and RunChunk.objects.get(run=run, lo=lo).rows == 2


def test_run_chunk_complete_last_chunk_says_so_and_progress_follows(kind):
    run = RunFactory()
    ranges = run_prepare(run_id=run.pk)

    last = [run_chunk_complete(run_id=run.pk, lo=lo, hi=hi) for lo, hi in ranges[:2]]
    assert run_progress(run_id=run.pk).percent == 66
    last.append(run_chunk_complete(run_id=run.pk, lo=ranges[2][0], hi=ranges[2][1]))

    assert last == [False, False, True]
    progress = run_progress(run_id=run.pk)
    assert (progress.percent, progress.chunks_done, progress.finished) == (100, 3, False)  # not yet published


def test_run_chunk_failure_writes_nothing_and_fails_the_run(register_kind, count_users, five_users):
    def write_then_break(run: Run, lo: int, hi: int) -> int:
        Group.objects.create(name=f"result of {run.pk}:{lo}")
        raise ValueError("bad row")

    register_kind(count_users.kind())
    previous = published()
    register_kind(count_users.kind(process_chunk=write_then_break))
    run = run_start(kind=KIND, sync=True)

    assert run.status == Run.Status.FAILED and run.error.startswith("chunk ") and "ValueError: bad row" in run.error
    assert not Group.objects.exists()
    assert not RunChunk.objects.filter(run=run, status=RunChunk.Status.DONE).exists()
    assert current_run(kind=KIND) == previous


def test_run_chunk_of_a_failed_run_does_nothing(kind):
    run = RunFactory()
    (lo, hi), *_ = run_prepare(run_id=run.pk)
    run_fail(run_id=run.pk, error="stopped")

    assert run_chunk_complete(run_id=run.pk, lo=lo, hi=hi) is False
    assert kind.calls["process_chunk"] == 0



def test_a_chunk_whose_run_failed_while_it_worked_keeps_none_of_its_rows(register_kind, count_users, five_users):
    """The watchdog (or another chunk) failed the run mid-chunk: the chunk's rows would have landed
    after the failed run's rows were pruned, and stayed for good."""
    def write_while_the_run_fails(run: Run, lo: int, hi: int) -> int:
        Group.objects.create(name=f"result of {run.pk}:{lo}")
        run_fail(run_id=run.pk, error="no heartbeat")  # as the watchdog would, meanwhile
        return 1

    register_kind(count_users.kind(process_chunk=write_while_the_run_fails))
    run = RunFactory()
    (lo, hi), *_ = run_prepare(run_id=run.pk)

    assert run_chunk_complete(run_id=run.pk, lo=lo, hi=hi) is False

    run.refresh_from_db()
    assert not Group.objects.exists()
    assert run.chunks_done == 0 and RunChunk.objects.get(run=run, lo=lo).status == RunChunk.Status.PENDING


# Finalize and publish

def test_run_finalize_waits_while_chunks_are_pending(kind):
    run = RunFactory()
    run_prepare(run_id=run.pk)

    assert run_finalize(run_id=run.pk) is FinalizeOutcome.WAITING
    assert kind.calls["finish"] == 0 and current_run(kind=KIND) is None


def test_run_finalize_duplicate_delivery_does_nothing(kind):
    run = RunFactory()
    for lo, hi in run_prepare(run_id=run.pk):
        run_chunk_complete(run_id=run.pk, lo=lo, hi=hi)

    assert run_finalize(run_id=run.pk) is FinalizeOutcome.PUBLISHED
    assert run_finalize(run_id=run.pk) is FinalizeOutcome.NOTHING_TO_DO
    assert kind.calls["finish"] == 1


def test_run_publish_failure_leaves_previous_run_current(register_kind, count_users, five_users):
    def publish_then_break(run: Run) -> None:
        Group.objects.create(name="published extra")
        raise RuntimeError("disk full")

    register_kind(count_users.kind())
    previous = published()
    register_kind(count_users.kind(publish=publish_then_break))
    run = run_start(kind=KIND, sync=True)

    assert run.status == Run.Status.FAILED and "RuntimeError: disk full" in run.error
    previous.refresh_from_db()
    assert previous.status == Run.Status.SUCCEEDED
    assert CurrentRun.objects.get(kind=KIND).run == previous
    assert not Group.objects.exists()


def test_run_publish_hook_runs_inside_the_flip(register_kind, count_users, five_users):
    seen = []
    register_kind(count_users.kind(publish=lambda run: seen.append(current_run(kind=KIND))))
    first = published()
    published()

    assert seen == [None, first]  # the pointer had not moved yet when the hook ran


@pytest.mark.parametrize("step", ["prepare", "finish"])
def test_run_step_failure_fails_the_run_and_keeps_previous_current(register_kind, count_users, five_users, step):
    def broken(*args: object) -> None:
        raise KeyError("missing column")

    register_kind(count_users.kind())
    previous = published()
    register_kind(count_users.kind(**{step: broken}))
    run = run_start(kind=KIND, sync=True)

    assert run.status == Run.Status.FAILED and run.error == f"{step}: KeyError: 'missing column'"
    assert current_run(kind=KIND) == previous
    register_kind(count_users.kind())
    assert published()  # a failed run does not hold the kind


def test_run_with_nothing_to_process_fails_and_keeps_previous_current(register_kind, count_users, five_users):
    register_kind(count_users.kind())
    previous = published()
    register_kind(count_users.kind(prepare=lambda run: []))

    run = run_start(kind=KIND, sync=True)

    assert run.status == Run.Status.FAILED and run.error == "prepare: nothing to process"
    assert current_run(kind=KIND) == previous


# One active run per kind

def test_run_start_refuses_second_active_run_of_a_kind(kind):
    first = run_start(kind=KIND, sync=False)

    with pytest.raises(RunAlreadyActive, match=rf"#{first.pk}\) is already queued or running"):
        run_start(kind=KIND, sync=True)

    assert list(Run.objects.all()) == [first]


def test_run_constraint_refuses_two_running_runs_of_a_kind(kind):
    RunFactory(status=Run.Status.RUNNING)
    RunFactory(status=Run.Status.SUCCEEDED)  # finished runs do not count
    RunFactory(kind="other", status=Run.Status.RUNNING)  # nor do other kinds

    with pytest.raises(IntegrityError), transaction.atomic():
        RunFactory(status=Run.Status.RUNNING)


# Bad input: a clear error and nothing written

def test_run_start_unknown_kind_writes_nothing(kind):
    with pytest.raises(RunKindUnknown, match="Unknown run kind “no_such_job” \\(known: .*test_count_users"):
        run_start(kind="no_such_job", sync=True)

    assert not Run.objects.exists() and not AuditEvent.objects.exists()


def test_run_start_params_not_json_are_refused(kind):
    with pytest.raises(RunParamsInvalid, match="plain JSON values"):
        run_start(kind=KIND, params={"when": datetime.date(2020, 1, 1)})

    assert not Run.objects.exists()


def test_run_start_kind_refuses_its_params(register_kind, count_users):
    def clean(params: dict) -> dict:
        if params.get("k", 1) < 1:
            raise RunParamsInvalid("k must be at least 1")
        return params

    register_kind(count_users.kind(clean_params=clean))

    with pytest.raises(RunParamsInvalid, match="k must be at least 1"):
        run_start(kind=KIND, params={"k": 0})
    assert not Run.objects.exists()


# Watchdog

def test_runs_watchdog_fails_silent_run_and_leaves_pointer(kind):
    previous = published()
    run = RunFactory()
    run_prepare(run_id=run.pk)  # claimed; then the worker died
    beat = timezone.now() - services.STALE_AFTER - datetime.timedelta(seconds=1)
    Run.objects.filter(pk=run.pk).update(heartbeat_at=beat)

    assert runs_watchdog() == [run.pk]

    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert run.error == f"no heartbeat since {beat.isoformat(timespec='seconds')}"
    assert current_run(kind=KIND) == previous
    assert Run.objects.get(pk=previous.pk).status == Run.Status.SUCCEEDED


def test_runs_watchdog_leaves_beating_runs_alone(kind):
    run = RunFactory()
    ranges = run_prepare(run_id=run.pk)
    later = timezone.now() + services.STALE_AFTER - datetime.timedelta(seconds=5)
    run_chunk_complete(run_id=run.pk, lo=ranges[0][0], hi=ranges[0][1])  # the chunk beats

    assert runs_watchdog(now=later) == []
    assert Run.objects.get(pk=run.pk).status == Run.Status.RUNNING


def test_runs_watchdog_fails_a_queued_run_never_started(kind, monkeypatch):
    sent = []
    monkeypatch.setattr(services.current_app, "send_task", lambda name, args: sent.append(args))
    run = RunFactory()

    assert runs_watchdog(now=timezone.now() + services.QUEUED_AFTER - datetime.timedelta(minutes=1)) == []
    assert runs_watchdog(now=timezone.now() + services.QUEUED_AFTER + datetime.timedelta(minutes=1)) == [run.pk]
    assert Run.objects.get(pk=run.pk).error.startswith("not started since it was queued at ")
    assert sent == [[run.pk]]  # sent again once on the way, in vain


def test_run_fail_never_touches_a_published_run(kind):
    run = published()

    assert run_fail(run_id=run.pk, error="late") is False
    assert Run.objects.get(pk=run.pk).status == Run.Status.SUCCEEDED and current_run(kind=KIND) == run


@pytest.mark.django_db(transaction=True)
def test_run_chunk_complete_chunks_of_one_run_proceed_side_by_side(register_kind, count_users, five_users):
    """A chunk in progress locks its own row only: the run's other chunks go on meanwhile."""
    first_started, release_first = threading.Event(), threading.Event()

    def slow_first_chunk(run: Run, lo: int, hi: int) -> int:
        if lo == ranges[0][0]:
            first_started.set()
            assert release_first.wait(10)
        return count_users.process_chunk(run, lo, hi)

    register_kind(count_users.kind(process_chunk=slow_first_chunk))
    run = RunFactory()
    ranges = run_prepare(run_id=run.pk)

    def first() -> None:
        try:
            run_chunk_complete(run_id=run.pk, lo=ranges[0][0], hi=ranges[0][1])
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert first_started.wait(10)
        run_chunk_complete(run_id=run.pk, lo=ranges[1][0], hi=ranges[1][1])
        assert RunChunk.objects.get(run=run, lo=ranges[1][0]).status == RunChunk.Status.DONE
    finally:
        release_first.set()
        thread.join()
    assert Run.objects.get(pk=run.pk).chunks_done == 2


@pytest.mark.django_db(transaction=True)
def test_runs_watchdog_leaves_a_run_being_finished_alone(register_kind, count_users, five_users):
    """A long finish outlives the heartbeat; its locked row tells the watchdog a worker holds it."""
    finishing, release = threading.Event(), threading.Event()

    def slow_finish(run: Run) -> dict:
        finishing.set()
        assert release.wait(10)
        return count_users.finish(run)

    register_kind(count_users.kind(finish=slow_finish))
    run = RunFactory()
    for lo, hi in run_prepare(run_id=run.pk):
        run_chunk_complete(run_id=run.pk, lo=lo, hi=hi)
    thread, outcome = started_in_thread(lambda: run_finalize(run_id=run.pk))
    try:
        assert finishing.wait(10)
        assert runs_watchdog(now=timezone.now() + 2 * services.STALE_AFTER) == []
        assert run_finalize(run_id=run.pk) is FinalizeOutcome.WAITING  # a second finalize asks again later
    finally:
        release.set()
        thread.join()
    assert outcome == [FinalizeOutcome.PUBLISHED] and current_run(kind=KIND) == run


def test_a_queued_run_nobody_claimed_has_its_start_sent_again_at_most_every_requeue_period(kind, monkeypatch):
    from crm_bank.runs.services import REQUEUE_AFTER, START_TASK, run_claim, runs_requeue

    sent = []
    monkeypatch.setattr(services.current_app, "send_task", lambda name, args: sent.append((name, args)))
    run = RunFactory()
    queued_at = Run.objects.get(pk=run.pk).created_at
    second = datetime.timedelta(seconds=1)

    assert runs_requeue(now=queued_at + REQUEUE_AFTER - second) == []
    assert runs_requeue(now=queued_at + REQUEUE_AFTER + second) == [run.pk]
    assert runs_requeue(now=queued_at + 2 * REQUEUE_AFTER) == []  # sent a moment ago
    assert runs_requeue(now=queued_at + 2 * REQUEUE_AFTER + 2 * second) == [run.pk]
    assert sent == [(START_TASK, [run.pk])] * 2
    assert run_claim(run_id=run.pk)
    assert runs_requeue(now=queued_at + 4 * REQUEUE_AFTER) == []
    assert Run.objects.get(pk=run.pk).status == Run.Status.RUNNING


def test_a_broker_still_down_leaves_the_run_queued_for_the_next_round(kind, monkeypatch):
    from crm_bank.runs.services import REQUEUE_AFTER, runs_requeue

    def down(name, args):
        raise ConnectionError("broker down")

    monkeypatch.setattr(services.current_app, "send_task", down)
    run = RunFactory()

    assert runs_requeue(now=timezone.now() + REQUEUE_AFTER + datetime.timedelta(seconds=1)) == []
    assert Run.objects.get(pk=run.pk).status == Run.Status.QUEUED


def test_the_server_drops_a_silent_client_within_minutes(db):
    """A worker host lost mid-publish keeps its transaction (and the run's row lock, which the
    watchdog skips) until the server notices the client is gone: minutes, not the OS's two hours."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW tcp_keepalives_idle")
        idle = cursor.fetchone()[0]
        cursor.execute("SHOW tcp_keepalives_interval")
        interval = cursor.fetchone()[0]
        cursor.execute("SHOW tcp_keepalives_count")
        count = cursor.fetchone()[0]

    assert (idle, interval, count) == ("60", "10", "6")  # seconds
