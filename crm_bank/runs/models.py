"""Batch runs: one row per job, its chunks, and the published ("current") run of each kind.

Feature apps keep their results in their own tables keyed (run, customer); a reader finds the
results to show through `CurrentRun`, which moves only when a whole run is done.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Run(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        SUPERSEDED = "superseded", _("Superseded")

    # A queued or running run still holds its kind: a second one is refused (see Meta.constraints).
    ACTIVE = (Status.QUEUED, Status.RUNNING)

    kind = models.CharField(_("kind"), max_length=40)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    # The date the job computes "as of" (recency, tenure): the demo data ends decades ago.
    as_of = models.DateField(_("as of"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    chunks_total = models.PositiveIntegerField(_("chunks"), default=0)
    chunks_done = models.PositiveIntegerField(_("chunks done"), default=0)
    heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)
    metrics = models.JSONField(_("metrics"), default=dict, blank=True)
    code_version = models.CharField(_("code version"), max_length=40, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", verbose_name=_("started by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    # When its per-customer rows were deleted (a failed run, or a published one past its kind's
    # keep_published): the run row, its metrics and its small tables stay as history.
    results_pruned_at = models.DateTimeField(_("results pruned at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("run")
        verbose_name_plural = _("runs")
        constraints = [
            # Two runs of one kind can never both run or publish: the database refuses the second
            # queued/running row, whatever races the application loses.
            models.UniqueConstraint(
                fields=["kind"], condition=Q(status__in=["queued", "running"]), name="runs_one_active_per_kind",
            ),
        ]
        indexes = [
            # A kind's history, newest first: the admin list, "previous run" for movers pages.
            models.Index(fields=["kind", "-created_at"], name="runs_kind_created_idx"),
            # The watchdog's scan: running runs by heartbeat (a handful of rows, never the history).
            models.Index(
                fields=["heartbeat_at"], condition=Q(status="running"), name="runs_running_heartbeat_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def progress(self) -> int:
        """Whole percent of chunks done; a published run is complete by definition."""
        if self.status in (self.Status.SUCCEEDED, self.Status.SUPERSEDED):
            return 100
        if not self.chunks_total:
            return 0
        return min(100, self.chunks_done * 100 // self.chunks_total)


class RunChunk(models.Model):
    """One id range of a run. Its status makes a redelivered chunk task a no-op."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DONE = "done", _("Done")

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="chunks", verbose_name=_("run"))
    # Inclusive bounds of the ids the chunk covers (customer ids, usually).
    lo = models.BigIntegerField(_("from id"))
    hi = models.BigIntegerField(_("to id"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    rows = models.PositiveBigIntegerField(_("rows written"), default=0)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["run", "lo"]
        verbose_name = _("run chunk")
        verbose_name_plural = _("run chunks")
        constraints = [
            # Also the index of every chunk look-up: (run, lo) from a task's arguments, and a
            # run's chunks in order for "all done?" and the metrics sum.
            models.UniqueConstraint(fields=["run", "lo"], name="runs_chunk_unique_lo"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.lo}-{self.hi} ({self.status})"


class CurrentRun(models.Model):
    """The published run of each kind: the one whose results every page shows."""

    kind = models.CharField(_("kind"), max_length=40, primary_key=True)
    # PROTECT: the results a page shows cannot be deleted from under it.
    run = models.OneToOneField(Run, on_delete=models.PROTECT, related_name="+", verbose_name=_("run"))
    published_at = models.DateTimeField(_("published at"))

    class Meta:
        verbose_name = _("current run")
        verbose_name_plural = _("current runs")

    def __str__(self) -> str:
        return f"{self.kind} → #{self.run_id}"
