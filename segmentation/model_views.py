"""The models page: the published model-training run's models, their figures and the per-segment
action table; Train now with its progress bar."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from crm_bank.org.decorators import staff_required
from crm_bank.org.models import StaffProfile
from crm_bank.runs.pages import run_progress_bar, run_start_from_form
from customers.access import customer_get_for_user
from customers.panels import next_product_reason, prediction_line
from segmentation import prediction_selectors
from segmentation.actions import CHANNEL_COSTS
from segmentation.model_forms import ModelTrainingForm
from segmentation.training import MODEL_TRAINING, model_training_start

Role = StaffProfile.Role


@require_GET
@staff_required(Role.ANALYST)
def model_overview(request: HttpRequest) -> HttpResponse:
    run = prediction_selectors.model_training_run_current()
    context = {"run": run, "active": prediction_selectors.model_training_run_active(), "form": ModelTrainingForm()}
    if run is not None:
        models = prediction_selectors.model_summaries(run=run)
        context |= {
            "response": models.get("response"), "churn": models.get("churn"),
            "actions": prediction_selectors.segment_action_table(run=run),
            "look_alike_auc": [(prediction_selectors.product_label(code), auc)
                               for code, auc in sorted((run.metrics.get("look_alike_auc") or {}).items())],
            "channel_costs": [
                (prediction_selectors.channel_label(code), cost)
                for code, cost in sorted(run.params.get("channel_costs", CHANNEL_COSTS).items(), key=lambda i: -i[1])
            ],
        }
    return render(request, "segmentation/model_overview.html", context)


@require_POST
@staff_required(Role.ANALYST)
def model_training_run_start(request: HttpRequest) -> HttpResponse:
    """"Train now": queues a model-training run (the run's start writes the audit record)."""
    return run_start_from_form(
        request, ModelTrainingForm(request.POST),
        lambda data: model_training_start(as_of=data["as_of"], seed=data["seed"], started_by=request.user),
        invalid=_("Enter the as-of date as a date and the seed as a whole number, or leave them empty."),
        queued=_("Model training run #%(run)s queued."), back_to="segmentation:models",
    )


@require_GET
@staff_required(Role.ANALYST)
def model_training_run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The progress bar (htmx partial, polled every 2 s until the run is over)."""
    return run_progress_bar(request, run_id=run_id, kind=MODEL_TRAINING, prefix="models",
                             title=_("Model training run #%(run)s"), results="segmentation:models")


@require_GET
def customer_predictions_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The 360° page's predictions panel (htmx, loaded with the page): the customer's propensity,
    churn risk and next-best product with their reasons and the runs' dates, masked as the viewer may see them. Loaded
    apart so the page itself keeps its query budget."""
    access = customer_get_for_user(user=request.user, customer_id=pk, request=request, purpose="predictions")
    summary = prediction_selectors.customer_prediction_summary(customer_id=pk)
    next_product = prediction_selectors.customer_next_product(customer_id=pk)
    return render(request, "segmentation/_customer_predictions.html", {
        "access": access, "predictions": prediction_line(access, summary), "next_product": next_product,
        "next_product_reason": next_product_reason(next_product) if next_product else "",
    })
