"""The uploaded file holds customer data as received: deleted once the batch is imported or refused,
kept for a failed commit (to be committed again), and deleted with the batch refused when it is not
imported within CRM_IMPORT_FILE_DAYS."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from crm_bank.audit.models import AuditEvent
from crm_bank.runs.models import Run
from customers.imports import services
from customers.imports.services import (
    import_batch_commit,
    import_batch_preview,
    import_batch_upload,
    import_files_expire,
    source_system_ensure,
)
from customers.models import ImportBatch
from tests.customers.import_helpers import JIRI, LI_WEI, write_file

pytestmark = pytest.mark.django_db


def _uploaded(tmp_path, rows, name="a.csv") -> ImportBatch:
    system, _created = source_system_ensure(code="crm_web", actor=None)
    path = write_file(tmp_path / name, rows)
    with path.open("rb") as handle:
        batch = import_batch_upload(source=system, file=handle, file_name=path.name, actor=None)
    assert batch.stored_file and default_storage.exists(batch.stored_file)
    return batch


def test_an_imported_batchs_file_is_deleted_once_the_commit_is_committed(tmp_path, branch_a,
                                                                         django_capture_on_commit_callbacks):
    batch = _uploaded(tmp_path, [LI_WEI, JIRI])
    name = batch.stored_file

    with django_capture_on_commit_callbacks(execute=True):
        import_batch_commit(batch=batch, actor=None, sync=True)

    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.COMMITTED and batch.line_count == 2
    assert batch.stored_file == "" and not default_storage.exists(name) and len(batch.file_sha256) == 64


def test_a_file_refused_by_its_check_is_deleted(tmp_path, branch_a, django_capture_on_commit_callbacks):
    batch = _uploaded(tmp_path, [])  # a header, no data lines
    name = batch.stored_file

    with django_capture_on_commit_callbacks(execute=True):
        import_batch_preview(batch=batch, actor=None)

    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.REFUSED and "no data lines" in batch.refusal
    assert batch.stored_file == "" and not default_storage.exists(name)


def test_a_failed_commit_keeps_the_file_to_be_committed_again(tmp_path, branch_a, monkeypatch,
                                                             django_capture_on_commit_callbacks):
    batch = _uploaded(tmp_path, [LI_WEI])

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "batch_resolve_and_apply", broken)
    with django_capture_on_commit_callbacks(execute=True):
        run = import_batch_commit(batch=batch, actor=None, sync=True)

    batch.refresh_from_db()
    assert run.status == Run.Status.FAILED and batch.status == ImportBatch.Status.COMMITTING
    assert batch.stored_file and default_storage.exists(batch.stored_file)


def test_a_batch_not_imported_in_time_is_refused_and_its_file_deleted(tmp_path, branch_a, settings,
                                                                      django_capture_on_commit_callbacks):
    settings.CRM_IMPORT_FILE_DAYS = 30
    old = _uploaded(tmp_path, [LI_WEI], name="old.csv")
    checked = _uploaded(tmp_path, [JIRI], name="checked.csv")
    import_batch_preview(batch=checked, actor=None)
    recent = _uploaded(tmp_path, [LI_WEI], name="recent.csv")
    month_ago = timezone.now() - dt.timedelta(days=31)
    ImportBatch.objects.filter(pk__in=[old.pk, checked.pk]).update(uploaded_at=month_ago)

    with django_capture_on_commit_callbacks(execute=True):
        expired = import_files_expire()

    assert sorted(expired) == sorted([old.pk, checked.pk])
    for batch in (old, checked):
        name = batch.stored_file
        batch.refresh_from_db()
        assert batch.status == ImportBatch.Status.REFUSED and "30 days" in batch.refusal
        assert batch.stored_file == "" and not default_storage.exists(name)
    recent.refresh_from_db()
    assert recent.status == ImportBatch.Status.UPLOADED and default_storage.exists(recent.stored_file)
    audited = AuditEvent.objects.filter(object_type="import_file", action=AuditEvent.Action.DELETE)
    assert sorted(int(pk) for pk in audited.values_list("object_id", flat=True)) == sorted(expired)
    detail = audited.get(object_id=str(old.pk)).detail
    assert detail["previous_status"] == "uploaded" and len(detail["sha256"]) == 64 and detail["stored_as"]
    assert import_files_expire() == []  # refused now: nothing left to expire


def test_a_commit_that_failed_long_ago_is_refused_and_its_file_deleted(tmp_path, branch_a, monkeypatch,
                                                                      django_capture_on_commit_callbacks):
    batch = _uploaded(tmp_path, [LI_WEI])
    monkeypatch.setattr(services, "batch_resolve_and_apply", lambda **kwargs: 1 / 0)
    import_batch_commit(batch=batch, actor=None, sync=True)
    ImportBatch.objects.filter(pk=batch.pk).update(uploaded_at=timezone.now() - dt.timedelta(days=31))
    name = ImportBatch.objects.get(pk=batch.pk).stored_file

    with django_capture_on_commit_callbacks(execute=True):
        assert import_files_expire() == [batch.pk]

    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.REFUSED and not default_storage.exists(name)


def test_a_file_whose_delete_failed_stays_named_and_the_nightly_sweep_deletes_it(tmp_path, branch_a, monkeypatch,
                                                                                 django_capture_on_commit_callbacks):
    from django.core.files.storage import FileSystemStorage

    batch = _uploaded(tmp_path, [LI_WEI])
    name = batch.stored_file

    def refused(self, path):
        raise PermissionError(path)

    with monkeypatch.context() as patched:
        patched.setattr(FileSystemStorage, "delete", refused)
        with django_capture_on_commit_callbacks(execute=True):
            import_batch_commit(batch=batch, actor=None, sync=True)
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.COMMITTED and batch.stored_file == name and default_storage.exists(name)

    assert import_files_expire() == []  # nothing to refuse, but the file an imported batch still names goes

    batch.refresh_from_db()
    assert batch.stored_file == "" and not default_storage.exists(name)


def test_a_file_refused_at_the_commit_is_refused_for_good_and_deleted(tmp_path, branch_a,
                                                                      django_capture_on_commit_callbacks):
    """Committed without a check first (the command does): the batch is refused with the reason and
    its file deleted, and the run fails saying why; it is never left 'importing'."""
    batch = _uploaded(tmp_path, [])  # a header, no data lines
    name = batch.stored_file

    with django_capture_on_commit_callbacks(execute=True):
        run = import_batch_commit(batch=batch, actor=None, sync=True)

    batch.refresh_from_db()
    assert run.status == Run.Status.FAILED and "The file was refused" in run.error and "no data lines" in run.error
    assert batch.status == ImportBatch.Status.REFUSED and "no data lines" in batch.refusal
    assert batch.stored_file == "" and not default_storage.exists(name)
    assert AuditEvent.objects.filter(object_type="import_batch", object_id=str(batch.pk),
                                     outcome=AuditEvent.Outcome.DENIED).exists()


def test_an_empty_open_file_is_refused_at_the_upload_and_never_stored(tmp_path, branch_a):
    system, _created = source_system_ensure(code="crm_web", actor=None)
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with path.open("rb") as handle:  # an open file, as the command passes it: no .size of its own
        batch = import_batch_upload(source=system, file=handle, file_name=path.name, actor=None)

    assert batch.status == ImportBatch.Status.REFUSED and batch.refusal == "The file is empty."
    assert batch.stored_file == ""
