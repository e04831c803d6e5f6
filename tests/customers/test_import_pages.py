"""The import pages: upload → preview → import (run) → result and error file; who may use them."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from crm_bank.audit.models import AuditEvent
from crm_bank.runs.models import Run
from customers.imports.services import import_batch_commit, source_system_ensure
from customers.models import Customer, ImportBatch
from tests.customers.import_helpers import JIRI, LI_WEI, csv_text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def web_source(branch_a):
    return source_system_ensure(code="crm_web", actor=None)[0]


def _upload(client, source, rows, name="a.csv") -> ImportBatch:
    content = csv_text(rows).encode()
    response = client.post(reverse("customers:import-upload"), {
        "source": source.pk, "file": SimpleUploadedFile(name, content, content_type="text/csv")})
    batch = ImportBatch.objects.latest("pk")
    assert response.status_code == 302 and response["Location"] == reverse("customers:import-batch", args=[batch.pk])
    return batch


def test_import_pages_upload_preview_commit_result(client, supervisor_a, web_source, django_assert_max_num_queries):
    client.force_login(supervisor_a)
    with django_assert_max_num_queries(12):
        page = client.get(reverse("customers:import-upload"))
    assert "source_key" in page.content.decode() and "rm_username" in page.content.decode()
    bad = {"source_key": "k3", "family_name": "=HYPERLINK(\"x\")", "email": "nope", "branch_code": "A01"}
    batch = _upload(client, web_source, [LI_WEI, JIRI, bad])
    assert batch.status == ImportBatch.Status.PREVIEWED and not Customer.objects.exists()
    with django_assert_max_num_queries(8):
        preview = client.get(reverse("customers:import-batch", args=[batch.pk]))
    html = preview.content.decode()
    assert 'data-outcome="created">2<' in html and 'data-outcome="rejected">1<' in html
    assert "Not a valid e-mail address." in html and 'id="import-commit-form"' in html
    import_batch_commit(batch=batch, actor=supervisor_a, sync=True)  # the button's run, in-process
    with django_assert_max_num_queries(8):
        progress = client.get(reverse("customers:import-progress", args=[batch.pk]))
    assert 'id="import-result-link"' in progress.content.decode()
    with django_assert_max_num_queries(9):
        result = client.get(reverse("customers:import-batch", args=[batch.pk]))
    assert 'data-outcome="created">2<' in result.content.decode()
    assert 'id="import-commit-form"' not in result.content.decode()
    with django_assert_max_num_queries(8):
        errors = client.get(reverse("customers:import-errors", args=[batch.pk]))
    body = b"".join(errors.streaming_content).decode()
    assert body.splitlines()[1] == "4,k3,email,nope,Not a valid e-mail address."
    assert AuditEvent.objects.filter(object_type="import_batch_errors", object_id=str(batch.pk)).exists()
    assert Customer.objects.count() == 2


def test_import_commit_button_queues_a_run(client, supervisor_a, web_source, django_capture_on_commit_callbacks,
                                           monkeypatch):
    sent = []
    monkeypatch.setattr("crm_bank.runs.services.current_app.send_task", lambda name, args: sent.append((name, args)))
    client.force_login(supervisor_a)
    batch = _upload(client, web_source, [LI_WEI])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("customers:import-commit", args=[batch.pk]))
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.COMMITTING and batch.run.kind == "customer_import"
    assert sent == [("runs.start", [batch.run_id])]
    page = client.get(reverse("customers:import-batch", args=[batch.pk])).content.decode()
    assert reverse("customers:import-progress", args=[batch.pk]) in page
    again = client.post(reverse("customers:import-commit", args=[batch.pk]), follow=True)
    assert "cannot be imported" in again.content.decode()
    assert Run.objects.filter(kind="customer_import").count() == 1


def test_import_refused_file_says_why(client, bank_admin, web_source):
    client.force_login(bank_admin)
    batch = _upload(client, web_source, [], name="empty.csv")
    page = client.get(reverse("customers:import-batch", args=[batch.pk])).content.decode()
    assert batch.status == ImportBatch.Status.REFUSED or "header but no data lines" in page
    assert "header but no data lines" in page and 'id="import-commit-form"' not in page


def test_import_too_large_upload_is_refused(client, bank_admin, web_source, settings):
    settings.CRM_IMPORT_MAX_BYTES = 50
    client.force_login(bank_admin)
    batch = _upload(client, web_source, [LI_WEI, JIRI])
    assert batch.status == ImportBatch.Status.REFUSED and not batch.stored_file
    assert "too large" in client.get(reverse("customers:import-batch", args=[batch.pk])).content.decode()


@pytest.mark.parametrize("user", ["rm_a", "analyst_b", "no_role_user"])
def test_import_pages_forbidden_to_other_roles(client, request, user, web_source):
    client.force_login(request.getfixturevalue(user))
    assert client.get(reverse("customers:import-upload")).status_code == 403


def test_import_batch_of_another_supervisor_is_hidden(client, supervisor_a, supervisor_b, bank_admin, web_source):
    client.force_login(supervisor_a)
    batch = _upload(client, web_source, [LI_WEI])
    client.force_login(supervisor_b)
    assert client.get(reverse("customers:import-batch", args=[batch.pk])).status_code == 404
    assert client.post(reverse("customers:import-commit", args=[batch.pk])).status_code == 404
    client.force_login(bank_admin)
    assert client.get(reverse("customers:import-batch", args=[batch.pk])).status_code == 200


def test_import_run_through_a_real_worker(transactional_db, worker, supervisor_a, branch_a, tmp_path):
    from tests.customers.import_helpers import write_file

    source = source_system_ensure(code="crm_web", actor=None)[0]
    path = write_file(tmp_path / "w.csv", [LI_WEI, JIRI])
    from customers.imports.services import import_batch_upload

    with path.open("rb") as handle:
        batch = import_batch_upload(source=source, file=handle, file_name="w.csv", actor=supervisor_a)
    run = import_batch_commit(batch=batch, actor=supervisor_a)
    import time

    for _ in range(100):
        run.refresh_from_db()
        if run.status not in Run.ACTIVE:
            break
        time.sleep(0.2)
    batch.refresh_from_db()
    assert (run.status, batch.status, batch.counts["created"]) == ("succeeded", "committed", 2)
    assert run.metrics["counts"]["created"] == 2


def test_a_supervisors_import_writes_only_customers_of_their_branch(client, supervisor_a, branch_b, web_source):
    from tests.customers.factories import CustomerFactory

    other = CustomerFactory(home_branch=branch_b, national_id_type="CN_RIC", national_id=LI_WEI["national_id"])
    client.force_login(supervisor_a)
    batch = _upload(client, web_source, [
        {**LI_WEI, "source_key": "li"},  # resolves to branch B's customer by national ID
        {**JIRI, "branch_code": branch_b.code},  # names branch B
        {**JIRI, "source_key": "own", "national_id": "", "national_id_type": "", "branch_code": "A01"},
    ])
    import_batch_commit(batch=batch, actor=supervisor_a, sync=True)
    batch.refresh_from_db()
    assert batch.counts["rejected"] == 2 and batch.counts["created"] == 1
    reasons = {row.line: row.errors[0]["reason"] for row in batch.rows.filter(outcome="rejected")}
    assert reasons[2].startswith("This customer belongs to another branch")
    assert reasons[3] == "You may import customers of your own branch only."
    other.refresh_from_db()
    assert other.phone != "+8613800138000" and not other.source_records.filter(system_id="crm_web").exists()


def test_an_administrators_import_may_write_any_branch(client, bank_admin, branch_b, web_source):
    client.force_login(bank_admin)
    batch = _upload(client, web_source, [{**JIRI, "branch_code": branch_b.code}])
    import_batch_commit(batch=batch, actor=bank_admin, sync=True)
    batch.refresh_from_db()
    assert batch.counts["created"] == 1 and Customer.objects.get().home_branch == branch_b
