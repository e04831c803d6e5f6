"""Import batches from upload to commit: the services the upload page, the command and the
"customer_import" run call. Each validates, owns its transaction and writes the audit trail.

upload (file kept under MEDIA, batch row) → preview (dry run: every step of the commit inside a
transaction that is rolled back; counts per outcome and the first errors kept on the batch) →
commit (a run of kind "customer_import": the whole batch in the one transaction of its chunk).

The uploaded file holds customer data as received: it is deleted once the batch no longer needs it
(imported, or refused), and a batch not imported within CRM_IMPORT_FILE_DAYS is refused and its
file deleted by the nightly retention task (import_files_expire). A failed commit keeps it, to be
committed again.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TextIO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record
from crm_bank.bulk import gc_paused
from crm_bank.exports import neutralised
from crm_bank.org.selectors import staff_profile_for_user
from crm_bank.runs.errors import RunError, RunParamsInvalid
from crm_bank.runs.models import Run
from crm_bank.runs.registry import RunKind
from crm_bank.runs.services import run_start
from customers.imports.apply import STAGE, batch_resolve_and_apply, stage_copier, stage_create
from customers.imports.reading import FileRefused, import_file_open, max_bytes
from customers.imports.validation import file_lookups, frame_validate
from customers.models import FieldGroup, ImportBatch, ImportRow, SourceSystem

logger = logging.getLogger(__name__)

CUSTOMER_IMPORT = "customer_import"
PREVIEW_ERRORS = 20
UPLOAD_DIR = "imports"
ERROR_FILE_COLUMNS = ("line", "source_key", "column", "value", "reason")

RejectedRows = Iterable[tuple[int, str, dict, list[dict]]]  # (line, source_key, payload, errors)


@dataclass(frozen=True)
class ProcessResult:
    line_count: int
    counts: dict[str, int]
    first_errors: list[dict]
    encoding: str
    delimiter: str
    # Seconds per phase: "checked" (read, validate, stage), "applied" (resolve and write).
    seconds: dict[str, float]


class _DryRun(Exception):
    def __init__(self, result: ProcessResult) -> None:
        self.result = result


def source_system_ensure(*, code: str, actor: AbstractBaseUser | None) -> tuple[SourceSystem, bool]:
    """The source system of `code`; an unknown code is registered with the default trust (audited)."""
    code = code.strip().lower()
    if not code or len(code) > 32 or not code.replace("-", "").replace("_", "").isalnum() or not code.isascii():
        raise ValidationError(_("A source code is 1 to 32 letters, digits, hyphens or underscores."))
    with transaction.atomic():
        source, created = SourceSystem.objects.get_or_create(code=code, defaults={"name": code})
        if created:
            audit_record(actor=actor, action=AuditEvent.Action.CREATE, outcome=AuditEvent.Outcome.ALLOWED,
                         object_type="source_system", object_id=code, detail={"trust": SourceSystem.DEFAULT_TRUST})
    return source, created


def import_batch_upload(
    *, source: SourceSystem, file: IO[bytes], file_name: str, actor: AbstractBaseUser | None,
    ip_address: str | None = None,
) -> ImportBatch:
    """Keeps the file under MEDIA (imports/<date>/<uuid>-<name>) and records the batch. A file over
    the size limit or empty is recorded as refused, and not kept."""
    file_name = Path(file_name).name[:255] or "import.csv"
    size = getattr(file, "size", None)
    if size is None and file.seekable():  # an open file (the command), not an upload: measured the same
        size = file.seek(0, io.SEEK_END)
        file.seek(0)
    batch = ImportBatch(source=source, file_name=file_name, uploaded_by=actor if _is_user(actor) else None)
    if size is not None and (size == 0 or size > max_bytes()):
        batch.status, batch.file_size = ImportBatch.Status.REFUSED, size
        batch.refusal = (_("The file is empty.") if size == 0 else
                         _("The file is too large: files up to %(limit)s MB can be imported.")
                         % {"limit": max_bytes() // (1024 * 1024)})
    else:
        digest = hashlib.sha256()
        for block in File(file).chunks():
            digest.update(block)
        file.seek(0)
        name = f"{UPLOAD_DIR}/{timezone.localdate():%Y/%m}/{uuid.uuid4().hex}-{get_valid_filename(file_name)}"
        batch.stored_file = default_storage.save(name, File(file))
        batch.file_size, batch.file_sha256 = default_storage.size(batch.stored_file), digest.hexdigest()
    with transaction.atomic():
        batch.save()
        audit_record(actor=actor, action=AuditEvent.Action.CREATE, outcome=AuditEvent.Outcome.ALLOWED,
                     object_type="import_batch", object_id=batch.pk, ip_address=ip_address,
                     detail={"source": source.code, "file": file_name, "size": batch.file_size,
                             "refused": batch.status == ImportBatch.Status.REFUSED})
    return batch


def import_batch_preview(*, batch: ImportBatch, actor: AbstractBaseUser | None,
                         rejected_sink: Callable[[RejectedRows], None] | None = None) -> ImportBatch:
    """The dry run: every step of the commit, rolled back; the batch keeps the counts per outcome and
    the first errors (status "previewed"), or why the file was refused."""
    if batch.status not in (ImportBatch.Status.UPLOADED, ImportBatch.Status.PREVIEWED):
        raise ValidationError(_("Only an uploaded batch that is not imported yet can be checked."))
    try:
        with transaction.atomic():
            raise _DryRun(_batch_process(batch=batch, actor=actor, rejected_sink=rejected_sink))
    except _DryRun as dry_run:
        result = dry_run.result
    except FileRefused as refused:
        return _batch_refuse(batch=batch, reason=str(refused))
    batch.status, batch.line_count = ImportBatch.Status.PREVIEWED, result.line_count
    batch.encoding, batch.delimiter = result.encoding, result.delimiter
    batch.preview_counts = {"outcomes": result.counts, "errors": result.first_errors}
    batch.save(update_fields=["status", "line_count", "encoding", "delimiter", "preview_counts"])
    return batch


def import_batch_commit(*, batch: ImportBatch, actor: AbstractBaseUser | None, sync: bool = False) -> Run:
    """Starts the "customer_import" run of the batch (with `sync`, runs it here). Refused when the
    batch is refused, imported or importing, or another import is running (one at a time)."""
    committable = Q(status__in=[ImportBatch.Status.UPLOADED, ImportBatch.Status.PREVIEWED]) | Q(
        status=ImportBatch.Status.COMMITTING, run__status=Run.Status.FAILED)
    previous = batch.status
    if not ImportBatch.objects.filter(committable, pk=batch.pk).update(status=ImportBatch.Status.COMMITTING):
        raise ValidationError(_("This batch cannot be imported: it was refused, or is imported or being "
                                "imported already."))
    try:
        # With sync the run's steps run here, after run_start's own transaction has committed the run.
        run = run_start(kind=CUSTOMER_IMPORT, params={"batch": batch.pk}, started_by=actor, sync=sync)
    except RunError as error:
        ImportBatch.objects.filter(pk=batch.pk, status=ImportBatch.Status.COMMITTING).update(status=previous)
        raise ValidationError(str(error)) from None
    ImportBatch.objects.filter(pk=batch.pk).update(run=run)
    batch.refresh_from_db()
    return run


def import_batch_apply(*, batch_id: int, actor: AbstractBaseUser | None) -> int:
    """The commit itself, in the caller's transaction (the run's chunk): every line of the file to
    its outcome, the batch's counts and the audit row. Returns the line count."""
    batch = ImportBatch.objects.select_related("source").select_for_update(of=("self",)).get(pk=batch_id)
    if batch.status != ImportBatch.Status.COMMITTING:
        raise RunError(_("Import batch #%(batch)s is not waiting to be imported.") % {"batch": batch_id})
    try:
        with transaction.atomic():  # a refused file leaves nothing of its reading behind
            result = _batch_process(batch=batch, actor=actor)
    except FileRefused as refused:
        # Refused for good (an empty file, an encoding or a header it cannot read): the batch says
        # why and its file goes, as after a check; the run then fails with the reason (_import_metrics).
        _batch_refuse(batch=batch, reason=str(refused))
        audit_record(actor=actor, action=AuditEvent.Action.IMPORT, outcome=AuditEvent.Outcome.DENIED,
                     object_type="import_batch", object_id=batch.pk,
                     detail={"source": batch.source.code, "refused": str(refused)})
        return 0
    now = timezone.now()
    batch.status, batch.committed_at, batch.line_count = ImportBatch.Status.COMMITTED, now, result.line_count
    batch.counts, batch.encoding, batch.delimiter = result.counts, result.encoding, result.delimiter
    batch.seconds = result.seconds
    batch.save(update_fields=["status", "committed_at", "line_count", "counts", "encoding", "delimiter", "seconds"])
    _stored_file_release(batch)
    audit_record(actor=actor, action=AuditEvent.Action.IMPORT, outcome=AuditEvent.Outcome.ALLOWED,
                 object_type="import_batch", object_id=batch.pk,
                 detail={"source": batch.source.code, "lines": result.line_count, "counts": result.counts})
    return result.line_count


def progress_key(batch_id: int) -> str:
    return f"customer-import:{batch_id}:lines"


def _batch_process(*, batch: ImportBatch, actor: AbstractBaseUser | None,
                   rejected_sink: Callable[[RejectedRows], None] | None = None) -> ProcessResult:
    """1. Read and check the file a chunk at a time, the chunks COPYed into the staging table in one
       COPY while the next is checked (the lines read so far go to the cache for the progress bar:
       it cannot see this transaction).
    2. Resolve and apply (apply.py). 3. The first errors, and all rejected lines to `rejected_sink`."""
    source = batch.source
    scope = import_branch_scope(actor)
    if not batch.stored_file:
        raise FileRefused(batch.refusal or _("The file is empty."))
    lines, started = 0, time.perf_counter()
    with connection.cursor() as cursor:
        stage_create(cursor)
        branch_ids, rm_ids = file_lookups()
        with (import_file_open(Path(default_storage.path(batch.stored_file)), file_name=batch.file_name) as opened,
              stage_copier(cursor) as chunk_copy, gc_paused()):
            for raw, widths in opened.frames():
                lines += chunk_copy(frame_validate(
                    raw, widths, columns=opened.columns, default_branch_id=source.default_branch_id,
                    branch_scope=scope, branch_ids=branch_ids, rm_ids=rm_ids))
                cache.set(progress_key(batch.pk), lines, 3600)
        if not lines:
            raise FileRefused(_("The file has a header but no data lines."))
        checked = time.perf_counter()
        result = batch_resolve_and_apply(
            cursor=cursor, batch=batch, actor=actor, branch_scope=scope,
            source_trust={group: source.trust(group) for group in FieldGroup.values})
        cursor.execute(f"SELECT line, errors FROM {STAGE} WHERE NOT valid ORDER BY line LIMIT {PREVIEW_ERRORS}")
        first_errors = [{"line": line, **error} for line, errors in cursor.fetchall() for error in _json(errors)]
        if rejected_sink is not None:
            cursor.execute(f"SELECT line, source_key, payload, errors FROM {STAGE} WHERE NOT valid ORDER BY line")
            rejected_sink((line, key, _json(payload), _json(errors)) for line, key, payload, errors in cursor)
    seconds = {"checked": round(checked - started, 3), "applied": round(time.perf_counter() - checked, 3)}
    return ProcessResult(line_count=result.line_count, counts=result.counts, first_errors=first_errors[:PREVIEW_ERRORS],
                         seconds=seconds,
                         encoding=opened.encoding, delimiter=opened.delimiter)


def import_branch_scope(actor: AbstractBaseUser | None) -> frozenset[int] | None:
    """The branches an import by `actor` may write customers of: None (any) for an administrator
    and for the command line (no user: the operator of the machine); a supervisor's own branch."""
    if not _is_user(actor):
        return None
    profile = staff_profile_for_user(actor)
    if profile is not None and profile.is_admin:
        return None
    return frozenset({profile.branch_id}) if profile is not None and profile.branch_id else frozenset()


def _json(value: object) -> object:
    return json.loads(value) if isinstance(value, str) else value


def _batch_refuse(*, batch: ImportBatch, reason: str) -> ImportBatch:
    batch.status, batch.refusal = ImportBatch.Status.REFUSED, reason
    batch.save(update_fields=["status", "refusal"])
    _stored_file_release(batch)
    return batch


def _stored_file_release(batch: ImportBatch) -> None:
    """Deletes the batch's uploaded file once the caller's transaction commits (a rollback keeps it);
    the batch forgets the file only when it is gone, so a delete that fails, or a process that dies
    first, leaves it named for the nightly sweep (import_files_expire). Its size and SHA-256 stay."""
    if batch.stored_file:
        transaction.on_commit(lambda batch_id=batch.pk, name=batch.stored_file: stored_file_delete(batch_id, name))


def stored_file_delete(batch_id: int, name: str) -> bool:
    """Deletes the file and forgets it; False (logged, still named) when the storage refuses."""
    try:
        default_storage.delete(name)
    except OSError:
        logger.exception("Import file %s of batch %s could not be deleted", name, batch_id)
        return False
    ImportBatch.objects.filter(pk=batch_id, stored_file=name).update(stored_file="")
    return True


def import_files_expire(*, now: datetime.datetime | None = None) -> list[int]:
    """The nightly sweep of uploaded files. Refuses the batches uploaded more than CRM_IMPORT_FILE_DAYS
    ago and never imported (uploaded, checked, or committed by a run that failed) and deletes their
    files, each audited; returns their ids. Then deletes any file an imported or refused batch still
    names (a delete that failed, or a process that died before it)."""
    now = now or timezone.now()
    days = settings.CRM_IMPORT_FILE_DAYS
    expired = []
    stale = ImportBatch.objects.filter(
        Q(status__in=[ImportBatch.Status.UPLOADED, ImportBatch.Status.PREVIEWED])
        | Q(status=ImportBatch.Status.COMMITTING, run__status=Run.Status.FAILED),
        uploaded_at__lt=now - datetime.timedelta(days=days),
    )
    for batch_id in stale.values_list("pk", flat=True):
        with transaction.atomic():
            batch = stale.select_for_update(skip_locked=True, of=("self",)).filter(pk=batch_id).first()
            if batch is None:  # being committed right now, or no longer waiting
                continue
            previous = batch.status
            _batch_refuse(batch=batch, reason=_("Not imported within %(days)s days of its upload: the file was "
                                                "deleted. Upload it again to import it.") % {"days": days})
            audit_record(actor=None, action=AuditEvent.Action.DELETE, outcome=AuditEvent.Outcome.ALLOWED,
                         object_type="import_file", object_id=batch.pk,
                         detail={"file": batch.file_name, "stored_as": batch.stored_file, "size": batch.file_size,
                                 "sha256": batch.file_sha256, "previous_status": previous,
                                 "uploaded_at": batch.uploaded_at.isoformat(), "reason": "not imported in time",
                                 "days": days})
        expired.append(batch_id)
    left = ImportBatch.objects.filter(status__in=[ImportBatch.Status.COMMITTED, ImportBatch.Status.REFUSED]).exclude(
        stored_file="").values_list("pk", "stored_file")
    for batch_id, name in left:
        stored_file_delete(batch_id, name)
    return expired


def _is_user(actor: AbstractBaseUser | None) -> bool:
    return actor is not None and actor.is_authenticated


# The error file

class _Echo:
    """A file for csv.writer that hands each written line back (Django's streaming CSV recipe)."""

    def write(self, value: str) -> str:
        return value


def error_file_lines(rows: RejectedRows) -> Iterator[str]:
    """line, source_key, column, value, reason per error, as CSV lines; every cell that starts like
    a formula is neutralised, so the file is safe to open in a spreadsheet."""
    writer = csv.writer(_Echo())
    yield writer.writerow(ERROR_FILE_COLUMNS)
    for line, source_key, payload, errors in rows:
        for error in errors:
            value = str((payload or {}).get(error.get("column", ""), ""))
            yield writer.writerow([line, *(neutralised(str(cell)) for cell in (
                source_key or "", error.get("column", ""), value, error.get("reason", "")))])


def error_file_write(out: TextIO, rows: RejectedRows) -> int:
    """Writes the error file to `out`; returns the number of errors."""
    written = -1
    for written, line in enumerate(error_file_lines(rows)):  # noqa: B007
        out.write(line)
    return written


def batch_rejected_rows(*, batch: ImportBatch) -> Iterator[tuple[int, str, dict, list[dict]]]:
    """A committed batch's rejected lines in line order, streamed (the error file)."""
    return ImportRow.objects.filter(batch=batch, outcome=ImportRow.Outcome.REJECTED).order_by("line").values_list(
        "line", "source_key", "payload", "errors").iterator(chunk_size=5000)


def import_batch_errors_export(*, batch: ImportBatch, actor: AbstractBaseUser | None,
                               ip_address: str | None = None) -> Iterator[str]:
    """The batch's error file as CSV lines, streamed; the export is audited (it holds customer data
    as received)."""
    audit_record(actor=actor, action=AuditEvent.Action.EXPORT, outcome=AuditEvent.Outcome.ALLOWED,
                 object_type="import_batch_errors", object_id=batch.pk, ip_address=ip_address,
                 detail={"rejected": batch.counts.get(ImportRow.Outcome.REJECTED, 0)})
    return error_file_lines(batch_rejected_rows(batch=batch))


# The run kind

def _params_clean(params: dict) -> dict:
    try:
        batch_id = int(params["batch"])
    except (KeyError, TypeError, ValueError):
        raise RunParamsInvalid(_("An import run needs the number of its batch.")) from None
    return {"batch": batch_id}


def _import_chunk(run: Run, lo: int, hi: int) -> int:
    return import_batch_apply(batch_id=lo, actor=run.started_by)


def _import_metrics(run: Run) -> dict:
    batch = ImportBatch.objects.only("status", "refusal", "counts", "line_count", "seconds").get(
        pk=run.params["batch"])
    if batch.status == ImportBatch.Status.REFUSED:
        raise RunError(_("The file was refused: %(reason)s") % {"reason": batch.refusal})
    return {"lines": batch.line_count, "counts": batch.counts, "seconds": batch.seconds}


CUSTOMER_IMPORT_KIND = RunKind(
    name=CUSTOMER_IMPORT, version="import-1",
    clean_params=_params_clean,
    # One chunk: a batch is committed in one transaction (nothing half-written).
    prepare=lambda run: [(run.params["batch"], run.params["batch"])],
    process_chunk=_import_chunk,
    finish=_import_metrics,
)
