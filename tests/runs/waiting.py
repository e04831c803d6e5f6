"""Waiting for a run that a real worker executes."""

from __future__ import annotations

import time

from crm_bank.runs.models import Run
from crm_bank.runs.selectors import run_progress


def wait_until_finished(run: Run, timeout: float = 60) -> Run:
    deadline = time.monotonic() + timeout
    while not run_progress(run_id=run.pk).finished:
        assert time.monotonic() < deadline, f"run still {run_progress(run_id=run.pk)}"
        time.sleep(0.1)
    run.refresh_from_db()
    return run
