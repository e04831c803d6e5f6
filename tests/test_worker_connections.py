"""The workers keep a database connection from one task to the next (crm_bank/celery.py) the way a
web process keeps one between requests: closed past CONN_MAX_AGE, after a task that did not succeed,
and checked before use."""

from __future__ import annotations

import psycopg
import pytest
from celery.contrib.testing.worker import start_worker
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection, transaction

from crm_bank.celery import app, connections_checked_before_task, connections_closed_after_failed_task


@app.task(name="tests.backend_pid")
def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


@app.task(name="tests.task_that_fails")
def task_that_fails() -> None:
    raise ValueError("failed on purpose")


def _terminate(pids) -> None:
    """Ends the backends from a connection of its own (as a database restart would)."""
    settings = connection.settings_dict
    with psycopg.connect(dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"],
                         port=settings["PORT"] or 5432, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [list(pids)])


@pytest.fixture
def kept_connections(monkeypatch):
    # The test settings close every connection after its use (CONN_MAX_AGE 0); a worker's are kept.
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    connection.close()
    yield
    connection.close()


def test_celerys_own_fixup_no_longer_closes_the_connections_after_every_task():
    assert DjangoWorkerFixup(app).db_reuse_max >= 1_000_000


@pytest.mark.django_db(transaction=True)
def test_a_connection_is_kept_after_a_task_that_succeeded_and_closed_after_one_that_did_not(kept_connections):
    connection.ensure_connection()
    kept = connection.connection

    connections_checked_before_task(sender=backend_pid)
    connections_closed_after_failed_task(sender=backend_pid, state="SUCCESS")
    assert connection.connection is kept

    # A time limit may have stopped the task inside a query: nothing tells whether the connection is usable.
    connections_checked_before_task(sender=backend_pid)
    connections_closed_after_failed_task(sender=backend_pid, state="FAILURE")
    assert connection.connection is None


@pytest.mark.django_db(transaction=True)
def test_a_connection_past_its_age_is_closed_after_the_task(monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    connection.close()
    connection.ensure_connection()

    connections_closed_after_failed_task(sender=backend_pid, state="SUCCESS")

    assert connection.connection is None


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_dropped_between_tasks_is_replaced_before_the_next_query(kept_connections):
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        dropped = cursor.fetchone()[0]
    # As after a database restart: the server ends the backend while the worker waits for work.
    _terminate([dropped])

    connections_checked_before_task(sender=backend_pid)

    assert backend_pid() not in (dropped, None)


@pytest.mark.django_db(transaction=True)
def test_a_task_run_in_the_callers_process_leaves_the_callers_connection_alone(kept_connections):
    with transaction.atomic():
        connection.ensure_connection()
        kept = connection.connection

        assert task_that_fails.apply().failed()  # eager: the caller's connection, in the caller's transaction

        assert connection.connection is kept
        assert backend_pid.apply().get() > 0


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_task_after_task_on_the_same_backend(kept_connections):
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        pids = [backend_pid.delay().get(timeout=20) for _ in range(4)]
    try:
        assert len(set(pids)) == 1, pids
    finally:
        _terminate(set(pids))
