"""The pages' share of the run framework: a "Run now" form's POST and the htmx progress bar, the
same for every run kind."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from crm_bank.runs.errors import RunError
from crm_bank.runs.models import Run
from crm_bank.runs.selectors import run_progress


def run_start_from_form(
    request: HttpRequest, form: forms.Form, start: Callable[[dict], Run], *, invalid: str, queued: str, back_to: str
) -> HttpResponse:
    """A "Run now" button's POST for any run kind: the form checked, the run started with its data,
    a refusal (another run active, nothing to process) or the queued run's number as a message,
    then back to the kind's page."""
    if not form.is_valid():
        messages.error(request, invalid)
        return redirect(back_to)
    try:
        run = start(form.cleaned_data)
    except RunError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, queued % {"run": run.pk})
    return redirect(back_to)


def run_progress_bar(
    request: HttpRequest, *, run_id: int, kind: str, prefix: str, title: str, results: str
) -> HttpResponse:
    """One progress bar for every run kind on these pages; it polls its own URL until the run is over."""
    progress = run_progress(run_id=run_id)
    if progress is None or progress.kind != kind:
        raise Http404
    return render(request, "runs/_run_progress.html", {
        "progress": progress, "prefix": prefix, "title": title % {"run": run_id},
        "poll_url": request.path, "results_url": reverse(results),
    })
