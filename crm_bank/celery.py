"""The Celery app: JSON messages, late acks, one prefetched message per process.

Its settings live in Django settings under the CELERY_ namespace.
"""

from __future__ import annotations

import os

from celery import Celery, signals, states

# Production unless told otherwise (make run and the tests say which settings they use).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_bank.settings.production")

app = Celery("crm_bank")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Database connections in the workers. Celery's Django fix-up closes every connection before and
# after every task, so each chunk of a batch run paid for a new PostgreSQL backend: the connection,
# and its first statements planned and run on cold catalogue caches (a chunk's feature SQL planned
# in 47-52 ms on a new backend against 20-22 ms on a used one). It now closes them only every this
# many tasks, and the two handlers below do what Django does around a web request instead.
app.conf.CELERY_DB_REUSE_MAX = 1_000_000


def _task_is_eager(task) -> bool:
    # A task run in the caller's process (a --sync run, a test) uses the caller's connection, which
    # may be inside the caller's transaction: not ours to close.
    return task is None or bool(getattr(task.request, "is_eager", False))


@signals.task_prerun.connect
def connections_checked_before_task(sender=None, **kwargs) -> None:
    """As at the start of a web request: connections past CONN_MAX_AGE, or left unusable by an
    error, are closed; the others are checked before their first query (CONN_HEALTH_CHECKS), so a
    database restarted since the last task costs a reconnection, not a failed task."""
    if not _task_is_eager(sender):
        from django.db import close_old_connections

        close_old_connections()


@signals.task_postrun.connect
def connections_closed_after_failed_task(sender=None, state=None, **kwargs) -> None:
    """Kept after a task that succeeded (closed once past CONN_MAX_AGE); closed after any other. A
    task stopped by its time limit may have been stopped inside a query, and nothing can tell
    whether such a connection is still usable (Celery's reason for closing after every task)."""
    if _task_is_eager(sender):
        return
    from django.db import close_old_connections, connections

    if state == states.SUCCESS:
        close_old_connections()
    else:
        for connection in connections.all(initialized_only=True):
            connection.close()


@app.task(name="crm_bank.ping")
def ping() -> str:
    """Answers 'pong': lets /healthz and the tests prove a worker takes work."""
    return "pong"
