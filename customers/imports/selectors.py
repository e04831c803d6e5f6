"""Reads for the import pages: a user's batches, one batch with what its page shows."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db.models import QuerySet

from crm_bank.org.models import StaffProfile
from crm_bank.org.selectors import staff_profile_for_user
from crm_bank.runs.models import Run
from customers.imports.services import PREVIEW_ERRORS, progress_key
from customers.models import ImportBatch, ImportRow


def import_batches_for_user(*, user: AbstractBaseUser) -> QuerySet[ImportBatch]:
    """Every batch for an administrator; a supervisor's own uploads otherwise. Newest first."""
    batches = ImportBatch.objects.select_related("source", "uploaded_by", "run").order_by("-uploaded_at", "-pk")
    profile = staff_profile_for_user(user)
    if profile is None or profile.role != StaffProfile.Role.ADMIN:
        batches = batches.filter(uploaded_by=user)
    return batches


def import_batch_for_user(*, user: AbstractBaseUser, pk: int) -> ImportBatch | None:
    return import_batches_for_user(user=user).filter(pk=pk).first()


@dataclass(frozen=True)
class BatchView:
    outcomes: list[tuple[str, str, int]]  # (outcome, label, count), preview's or commit's
    errors: list[dict]
    can_commit: bool
    running: bool
    failed: bool


def import_batch_view(*, batch: ImportBatch) -> BatchView:
    """What the batch page shows; the committed batch's first errors in one query."""
    committed = batch.status == ImportBatch.Status.COMMITTED
    counts = batch.counts if committed else batch.preview_counts.get("outcomes", {})
    outcomes = [(value, str(label), counts.get(value, 0)) for value, label in ImportRow.Outcome.choices
                if value != ImportRow.Outcome.PENDING]
    if committed:
        rows = ImportRow.objects.filter(batch=batch, outcome=ImportRow.Outcome.REJECTED).order_by("line")
        errors = [{"line": line, **error} for line, row_errors in rows.values_list("line", "errors")[:PREVIEW_ERRORS]
                  for error in row_errors][:PREVIEW_ERRORS]
    else:
        errors = batch.preview_counts.get("errors", [])
    run_status = batch.run.status if batch.run_id else None
    failed = batch.status == ImportBatch.Status.COMMITTING and run_status == Run.Status.FAILED
    return BatchView(
        outcomes=outcomes if counts else [], errors=errors,
        can_commit=batch.status == ImportBatch.Status.PREVIEWED or failed,
        running=batch.status == ImportBatch.Status.COMMITTING and run_status in Run.ACTIVE, failed=failed,
    )


def import_lines_done(*, batch: ImportBatch) -> int:
    """Lines read so far by the running commit (the run's one transaction cannot be seen from here)."""
    return int(cache.get(progress_key(batch.pk)) or 0)
