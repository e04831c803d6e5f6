"""The import pages: upload (with the column schema) → dry-run preview → "Import" (a run with a
progress bar) → result with the error file. Administrators and supervisors only. A supervisor's
import writes customers of their own branch only (other lines are rejected with the reason, see
imports.services.import_branch_scope); an administrator's writes any branch. A supervisor sees the
batches they uploaded; an administrator sees every batch.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm_bank.audit.services import request_ip
from crm_bank.org.decorators import staff_required
from crm_bank.org.models import StaffProfile
from crm_bank.runs.selectors import run_progress
from customers.imports import selectors
from customers.imports.reading import max_bytes
from customers.imports.schema import COLUMNS
from customers.imports.services import (
    import_batch_commit,
    import_batch_errors_export,
    import_batch_preview,
    import_batch_upload,
)
from customers.models import ImportBatch, SourceSystem

Role = StaffProfile.Role
IMPORT_ROLES = (Role.ADMIN, Role.SUPERVISOR)


class ImportUploadForm(forms.Form):
    source = forms.ModelChoiceField(queryset=SourceSystem.objects.filter(is_active=True),
                                    label=gettext_lazy("Source system"))
    file = forms.FileField(label=gettext_lazy("File (CSV or XLSX)"))


@require_http_methods(["GET", "POST"])
@staff_required(*IMPORT_ROLES)
def import_upload(request: HttpRequest) -> HttpResponse:
    """The upload form, the column schema and the user's recent batches; a POST stores the file,
    runs the dry run and goes to the batch's preview."""
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        batch = import_batch_upload(source=form.cleaned_data["source"], file=upload, file_name=upload.name,
                                    actor=request.user, ip_address=request_ip(request))
        if batch.status != ImportBatch.Status.REFUSED:
            import_batch_preview(batch=batch, actor=request.user)
        return redirect("customers:import-batch", pk=batch.pk)
    batches = Paginator(selectors.import_batches_for_user(user=request.user), 20).get_page(request.GET.get("page"))
    return render(request, "customers/import_upload.html", {
        "form": form, "columns": COLUMNS, "batches": batches, "max_mb": max_bytes() // (1024 * 1024)})


@require_GET
@staff_required(*IMPORT_ROLES)
def import_batch(request: HttpRequest, pk: int) -> HttpResponse:
    """Preview (counts per outcome, the first errors, "Import"), progress while it runs, result."""
    batch = _batch_or_404(request, pk)
    return render(request, "customers/import_batch.html", {
        "batch": batch, "view": selectors.import_batch_view(batch=batch)})


@require_POST
@staff_required(*IMPORT_ROLES)
def import_commit(request: HttpRequest, pk: int) -> HttpResponse:
    batch = _batch_or_404(request, pk)
    try:
        import_batch_commit(batch=batch, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("customers:import-batch", pk=batch.pk)


@require_GET
@staff_required(*IMPORT_ROLES)
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress bar (htmx partial, polled every 2 s until the run is over)."""
    batch = _batch_or_404(request, pk)
    progress = run_progress(run_id=batch.run_id) if batch.run_id else None
    if progress is None:
        raise Http404
    return render(request, "customers/_import_progress.html", {
        "batch": batch, "progress": progress, "lines_done": selectors.import_lines_done(batch=batch)})


@require_GET
@staff_required(*IMPORT_ROLES)
def import_errors(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """The rejected lines as CSV (line, source key, column, value, reason), formulas neutralised."""
    batch = _batch_or_404(request, pk)
    if batch.status != ImportBatch.Status.COMMITTED:
        raise Http404
    lines = import_batch_errors_export(batch=batch, actor=request.user, ip_address=request_ip(request))
    # A BOM first, so spreadsheets read the Chinese and Czech text as UTF-8.
    response = StreamingHttpResponse((line for part in (["\ufeff"], lines) for line in part),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{batch.pk}-errors.csv"'
    return response


def _batch_or_404(request: HttpRequest, pk: int) -> ImportBatch:
    batch = selectors.import_batch_for_user(user=request.user, pk=pk)
    if batch is None:
        raise Http404(_("No such import batch."))
    return batch


urlpatterns = [
    path("", import_upload, name="import-upload"),
    path("<int:pk>/", import_batch, name="import-batch"),
    path("<int:pk>/commit/", import_commit, name="import-commit"),
    path("<int:pk>/progress/", import_progress, name="import-progress"),
    path("<int:pk>/errors.csv", import_errors, name="import-errors"),
]
