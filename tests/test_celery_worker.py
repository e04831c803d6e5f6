"""The Celery app as configured works with a real worker and the real broker (not eager mode)."""

from __future__ import annotations

import pytest
from celery.contrib.testing.worker import start_worker

from crm_bank.celery import app, ping


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_real_worker_takes_a_task_from_the_broker():
    assert app.conf.task_serializer == "json" and app.conf.accept_content == ["json"]
    assert app.conf.task_acks_late is True and app.conf.worker_prefetch_multiplier == 1
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        assert ping.delay().get(timeout=20) == "pong"
