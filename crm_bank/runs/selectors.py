"""Reads for pages and for the kinds' finish steps: a run's progress (the htmx progress bar), the
published run of a kind, the rows its chunks wrote."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Sum

from crm_bank.runs.models import CurrentRun, Run, RunChunk


@dataclass(frozen=True)
class RunProgress:
    run_id: int
    kind: str
    status: str
    percent: int
    chunks_done: int
    chunks_total: int
    error: str

    @property
    def finished(self) -> bool:
        """The progress bar stops polling."""
        return self.status not in Run.ACTIVE


def run_progress(*, run_id: int) -> RunProgress | None:
    """One small query, cheap enough to poll every second or two."""
    run = (
        Run.objects.only("kind", "status", "chunks_done", "chunks_total", "error").filter(pk=run_id).first()
    )
    if run is None:
        return None
    return RunProgress(
        run_id=run.pk, kind=run.kind, status=run.status, percent=run.progress,
        chunks_done=run.chunks_done, chunks_total=run.chunks_total, error=run.error,
    )


def current_run(*, kind: str) -> Run | None:
    """The run whose results pages show for `kind`, or None before the first one is published."""
    pointer = CurrentRun.objects.select_related("run", "run__started_by").filter(kind=kind).first()
    return pointer.run if pointer else None


def runs_recent(*, kind: str, limit: int = 20) -> list[Run]:
    """A kind's latest runs, newest first (the runs table beside a start button)."""
    return list(Run.objects.select_related("started_by").filter(kind=kind)[:limit])


def run_rows_written(run: Run) -> int:
    """The rows the run's chunks reported (each chunk's `process_chunk` result), summed: a finish's
    count of what its chunks did, or the check of what it reads back."""
    return int(RunChunk.objects.filter(run=run).aggregate(rows=Sum("rows"))["rows"] or 0)
