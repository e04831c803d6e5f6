"""The models page, Train now and its progress bar: access, content, queries."""

from __future__ import annotations

import json

import pytest
from django.template.defaultfilters import floatformat
from django.urls import reverse

from crm_bank.audit.models import AuditEvent
from crm_bank.runs.models import Run
from segmentation.models import ModelArtefact
from segmentation.segments import segmentation_start
from segmentation.training import MODEL_TRAINING, model_training_start
from tests.segmentation.model_bank import (
    AS_OF,
    model_bank_fixture,  # noqa: F401
)

pytestmark = pytest.mark.django_db

MODELS_URL = reverse("segmentation:models")


@pytest.fixture
def trained(model_bank) -> Run:
    segmentation_start(as_of=AS_OF, k=3, sync=True)
    return model_training_start(sync=True)


def test_models_page_shows_both_models_the_gains_and_the_segment_table(
    client, analyst_b, trained, django_assert_max_num_queries
):
    run = trained
    client.force_login(analyst_b)

    with django_assert_max_num_queries(10):
        response = client.get(MODELS_URL)

    assert response.status_code == 200
    html = response.content.decode()
    for name in ("response", "churn"):
        artefact = ModelArtefact.objects.get(run=run, name=name)
        assert artefact.sha256 in html and artefact.version in html
    report = ModelArtefact.objects.get(run=run, name="response").report
    assert f'id="response-auc">{report["time_ordered_test_auc"]:.3f}<' in html
    assert f'id="response-one-fit-auc">{report["one_fit_test_auc"]:.3f}<' in html
    assert f"{report['stratified_5fold_auc']:.3f}" in html
    assert f"model fitted on every contact before that month ({report['retrains']} fits)" in html
    assert f"{floatformat(100 * report['capture_top20'], 1)}%" in html
    assert f"{floatformat(100 * report['capture_top50'], 1)}%" in html
    assert f"{report['brier_test']:.3f}" in html
    assert 'id="why-no-duration"' in html and "known only after the call has ended" in html
    assert "No account stops transacting" in html  # the churn data's limits, as the model states them
    points = json.loads(html.split('id="response-gains-points" type="application/json">')[1].split("</script>")[0])
    assert points[0] == [0.0, 0.0] and points[-1][0] == 1.0 and points[-1][1] == pytest.approx(1.0)
    table = html[html.index('id="segment-action-table"'):]
    assert "measured" in table and "look-alike" in table and "Call centre" in table
    assert 'id="look-alike-auc"' in html
    assert run.metrics["currency"] and f"Amounts in {run.metrics['currency']}" in html


def test_models_page_before_any_run_says_how_to_start_one(client, analyst_b, django_assert_max_num_queries):
    client.force_login(analyst_b)

    with django_assert_max_num_queries(8):
        html = client.get(MODELS_URL).content.decode()

    assert 'id="no-models-run"' in html and "Train now" in html


def test_models_page_is_for_analysts(client, rm_a):
    client.force_login(rm_a)

    assert client.get(MODELS_URL).status_code == 403
    assert client.post(reverse("segmentation:models-run-start")).status_code == 403


def test_train_now_queues_a_run_started_by_the_analyst_and_audited(
    client, analyst_b, model_bank, django_capture_on_commit_callbacks
):
    client.force_login(analyst_b)

    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("segmentation:models-run-start"), {"seed": "5"}, follow=True)

    run = Run.objects.get(kind=MODEL_TRAINING)
    assert run.status == Run.Status.QUEUED and run.started_by == analyst_b and run.params["seed"] == 5
    assert run.as_of == AS_OF
    assert AuditEvent.objects.filter(object_type="run", object_id=str(run.pk), actor=analyst_b).exists()
    html = response.content.decode()
    assert f"Model training run #{run.pk} queued." in html
    assert reverse("segmentation:models-run-progress", args=[run.pk]) in html


def test_train_now_without_training_data_shows_the_reason_and_starts_nothing(client, analyst_b):
    client.force_login(analyst_b)

    response = client.post(reverse("segmentation:models-run-start"), {}, follow=True)

    assert "the models have nothing to learn from" in response.content.decode()
    assert not Run.objects.exists()


def test_train_now_with_a_bad_seed_is_refused(client, analyst_b):
    client.force_login(analyst_b)

    response = client.post(reverse("segmentation:models-run-start"), {"seed": "-1"}, follow=True)

    assert "the seed as a whole number" in response.content.decode() and not Run.objects.exists()


def test_progress_partial_polls_while_running(client, analyst_b, django_assert_max_num_queries):
    client.force_login(analyst_b)
    running = Run.objects.create(kind=MODEL_TRAINING, status=Run.Status.RUNNING, chunks_total=2, chunks_done=1)

    with django_assert_max_num_queries(5):
        html = client.get(reverse("segmentation:models-run-progress", args=[running.pk])).content.decode()

    assert 'hx-trigger="every 2s"' in html and "50%" in html and "Model training run" in html
    other = Run.objects.create(kind="segmentation", status=Run.Status.RUNNING)
    assert client.get(reverse("segmentation:models-run-progress", args=[other.pk])).status_code == 404


def test_the_churn_headline_is_the_time_ordered_test_when_the_report_has_one(client, analyst_b, trained):
    artefact = ModelArtefact.objects.get(run=trained, name="churn")
    deciles = [{"decile": d, "positive_rate": 0.1, "lift": 1.0, "cumulative_capture": min(1.0, 0.3 + d * 0.07)}
               for d in range(1, 11)]
    report = {**artefact.report, "test_auc": 0.9012, "time_ordered_test_auc": 0.8123,
              "time_ordered_baseline_auc_transactions_only": 0.7771, "time_ordered_train_cutoff": "1993-10-04",
              "time_ordered_train_accounts": 497, "time_ordered_train_churned": 22, "time_ordered_test_accounts": 777,
              "time_ordered_test_churned": 29, "time_ordered_capture_top20": 0.444,
              "time_ordered_lift_deciles": deciles}
    report.pop("time_ordered_note", None)
    ModelArtefact.objects.filter(pk=artefact.pk).update(report=report)
    client.force_login(analyst_b)

    churn = client.get(MODELS_URL).content.decode().split('id="churn-model"')[1]

    assert 'id="churn-auc">0.812<' in churn and 'id="churn-holdout-auc">0.901<' in churn and ">0.777<" in churn
    assert "44.4%" in churn and f"{floatformat(100 * deciles[4]['cumulative_capture'], 1)}%" in churn
    assert "on the 497 accounts eligible on 1993-10-04 (22 churned" in churn and "all 777 accounts" in churn
    points = json.loads(churn.split('id="churn-gains-points" type="application/json">')[1].split("</script>")[0])
    assert points[1] == [0.1, deciles[0]["cumulative_capture"]]


def test_without_a_time_ordered_test_the_churn_page_says_why_and_heads_with_the_held_out_accounts(
        client, analyst_b, trained):
    artefact = ModelArtefact.objects.get(run=trained, name="churn")
    report = {key: value for key, value in artefact.report.items() if not key.startswith("time_ordered")}
    report.update(test_auc=0.9012, time_ordered_note="Not measured: one horizon earlier (1993-10-04) 2 of 90 …")
    ModelArtefact.objects.filter(pk=artefact.pk).update(report=report)
    client.force_login(analyst_b)

    churn = client.get(MODELS_URL).content.decode().split('id="churn-model"')[1]

    assert 'id="churn-auc">0.901<' in churn and 'id="churn-holdout-auc"' not in churn
    assert "Not measured: one horizon earlier (1993-10-04) 2 of 90" in churn


def test_a_response_model_trained_before_the_monthly_retrain_keeps_its_own_headline(client, analyst_b, trained):
    artefact = ModelArtefact.objects.get(run=trained, name="response")
    report = {**artefact.report, "time_ordered_test_auc": 0.7506}
    for key in ("one_fit_test_auc", "retrains", "retrain_period"):
        report.pop(key)
    ModelArtefact.objects.filter(pk=artefact.pk).update(report=report, version="response-1")
    client.force_login(analyst_b)

    response = client.get(MODELS_URL).content.decode().split('id="response-model"')[1].split('id="churn-model"')[0]

    assert 'id="response-auc">0.751<' in response and "AUC, time-ordered test (headline)" in response
    assert 'id="response-one-fit-auc"' not in response and "tested once on the last" in response
