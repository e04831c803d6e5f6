"""The model-training run end to end (in-process), its artefacts, scoring new customers, and the
refusals: no contact history, no contacts, no transactions, scoring before any model."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask

from crm_bank.runs.errors import RunError, RunParamsInvalid
from crm_bank.runs.models import CurrentRun, Run
from crm_bank.runs.selectors import current_run
from segmentation.artefacts import artefact_sha256
from segmentation.contact_history import contact_history_register, contact_history_unregister
from segmentation.model_store import ArtefactRefused, models_load
from segmentation.models import CustomerPrediction, ModelArtefact, SegmentAction
from segmentation.prediction_frames import MISSING_INPUTS, NO_TRANSACTIONS, TOO_NEW
from segmentation.segments import segmentation_start
from segmentation.tasks import model_training_weekly
from segmentation.training import MODEL_TRAINING, model_training_start, predictions_score_new_customers
from tests.customers.factories import CustomerFactory, ProductFactory, account_for
from tests.segmentation.model_bank import (
    AS_OF,
    CALLED,
    TRANSACTING,
    ModelBank,
    add_called_customers,
    model_bank_fixture,  # noqa: F401
)

pytestmark = pytest.mark.django_db


def _scores(run: Run) -> dict[int, tuple]:
    return {
        row[0]: row[1:] for row in CustomerPrediction.objects.filter(run=run).order_by("customer_id").values_list(
            "customer_id", "propensity", "propensity_reason", "churn_risk", "churn_reason")
    }


@pytest.fixture
def trained(model_bank: ModelBank) -> Run:
    segmentation_start(as_of=AS_OF, k=3, sync=True)
    return model_training_start(sync=True)


def test_training_run_publishes_both_models_every_customers_scores_and_the_segment_actions(
    model_bank: ModelBank, trained: Run
):
    run = trained
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.as_of == AS_OF and current_run(kind=MODEL_TRAINING) == run
    artefacts = {a.name: a for a in ModelArtefact.objects.filter(run=run)}
    assert set(artefacts) == {"response", "churn"}
    for artefact in artefacts.values():
        assert artefact.sha256 == artefact_sha256(bytes(artefact.data)) and len(artefact.sha256) == 64
    response = artefacts["response"].report
    assert "duration" not in response["features"] and response["rows"] == CALLED
    assert response["trained_on"] == [{"product_category": "deposit", "channel": "call_centre", "contacts": CALLED}]
    assert 0.5 < response["time_ordered_test_auc"] <= 1 and 0.5 < response["stratified_5fold_auc"] <= 1
    assert artefacts["churn"].report["cutoff"] <= "1994-01-01" and artefacts["churn"].report["limits"]

    scores = _scores(run)
    assert len(scores) == len(model_bank.everyone) == run.metrics["customers"]
    called, transacting = model_bank.called[0].pk, model_bank.transacting[0].pk
    # The called customers: a propensity with its driver; no transactions, so no churn risk.
    assert 0 < scores[called][0] < 1 and scores[called][1] != MISSING_INPUTS
    assert scores[called][2] is None and scores[called][3] == NO_TRANSACTIONS
    # The transacting customers: no marital status recorded, so no propensity; a churn risk with its driver.
    assert scores[transacting][0] is None and scores[transacting][1] == MISSING_INPUTS
    assert 0 <= scores[transacting][2] <= 1 and scores[transacting][3] in artefacts["churn"].report["features"]
    assert scores[model_bank.young.pk][3] == TOO_NEW
    assert run.metrics["with_propensity"] == CALLED and run.metrics["unscored"]["propensity"][MISSING_INPUTS] == (
        TRANSACTING + 1)

    # The term deposit by phone is measured; everything else is a look-alike proxy.
    actions = SegmentAction.objects.filter(run=run)
    assert actions.exists() and run.metrics["segment_actions"] == actions.count()
    measured = actions.filter(basis=SegmentAction.Basis.RESPONSE_MODEL)
    assert set(measured.values_list("product_category", "channel")) == {("deposit", "call_centre")}
    for action in actions.exclude(expected_value=None):
        expected = action.predicted_response * action.value_per_conversion - action.cost_per_contact
        assert action.expected_value == pytest.approx(expected)


def test_training_is_deterministic_with_the_seed(model_bank: ModelBank):
    first = model_training_start(seed=11, sync=True)
    second = model_training_start(seed=11, sync=True)

    assert first.status == second.status == Run.Status.SUCCEEDED
    assert _scores(first) == _scores(second)
    assert (ModelArtefact.objects.get(run=first, name="response").report["time_ordered_test_auc"]
            == ModelArtefact.objects.get(run=second, name="response").report["time_ordered_test_auc"])


def test_a_changed_artefact_is_refused_before_it_is_loaded(trained: Run):
    artefact = ModelArtefact.objects.get(run=trained, name="response")
    tampered = bytearray(bytes(artefact.data))
    tampered[-10] ^= 0xFF
    ModelArtefact.objects.filter(pk=artefact.pk).update(data=bytes(tampered))

    with pytest.raises(ArtefactRefused, match="does not match its recorded SHA-256"):
        models_load(run_id=trained.pk)
    CustomerFactory()
    before = CustomerPrediction.objects.count()
    with pytest.raises(CommandError, match="does not match its recorded SHA-256"):
        call_command("train_models", "--score-only")
    assert CustomerPrediction.objects.count() == before


def test_an_artefact_changed_with_its_digest_is_refused_without_the_applications_signature(trained: Run):
    """Write access to the table is not enough: the signature is keyed by SECRET_KEY."""
    from segmentation.model_store import _loaded

    artefact = ModelArtefact.objects.get(run=trained, name="response")
    tampered = bytearray(bytes(artefact.data))
    tampered[-10] ^= 0xFF
    ModelArtefact.objects.filter(pk=artefact.pk).update(data=bytes(tampered), sha256=artefact_sha256(bytes(tampered)))
    _loaded.clear()

    with pytest.raises(ArtefactRefused, match="does not carry this application's signature"):
        models_load(run_id=trained.pk)
    ModelArtefact.objects.filter(pk=artefact.pk).update(signature="0" * 64)
    with pytest.raises(ArtefactRefused, match="signature"):
        models_load(run_id=trained.pk)


def test_models_signed_before_a_key_rotation_still_load(trained: Run, settings):
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-key-" + "x" * 50, [old_key]

    assert set(models_load(run_id=trained.pk)) == {"response", "churn"}

    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(ArtefactRefused, match="signature"):
        models_load(run_id=trained.pk)


def test_the_migration_signs_the_stored_models_whose_bytes_match_their_digest(trained: Run):
    from django.apps import apps as current_apps

    from segmentation.model_store import artefact_signature_valid

    migration = importlib.import_module("segmentation.migrations.0013_model_artefact_signature")
    response, churn = (ModelArtefact.objects.get(run=trained, name=name) for name in ("response", "churn"))
    ModelArtefact.objects.filter(run=trained).update(signature="")
    ModelArtefact.objects.filter(pk=churn.pk).update(data=bytes(churn.data) + b"changed")

    migration.sign_stored_models(current_apps, None)

    signed = {a.name: artefact_signature_valid(name=a.name, sha256=a.sha256, signature=a.signature)
              for a in ModelArtefact.objects.filter(run=trained)}
    assert signed == {"response": True, "churn": False}


def test_scoring_new_customers_uses_the_published_models_and_leaves_scored_ones_alone(
    model_bank: ModelBank, trained: Run, branch_a, capsys
):
    newcomer = CustomerFactory(home_branch=branch_a, marital_status="married", attributes={"age": 41})
    account_for(newcomer, product=ProductFactory(code="PT-CURRENT"), balance=1000)
    before = _scores(trained)

    call_command("train_models", "--score-only")

    assert "Scored 1 customer(s)" in capsys.readouterr().out
    after = _scores(trained)
    assert {k: v for k, v in after.items() if k != newcomer.pk} == before
    assert 0 < after[newcomer.pk][0] < 1 and after[newcomer.pk][3] == NO_TRANSACTIONS
    # A second call finds nobody left to score.
    assert predictions_score_new_customers() == (trained, 0)


def test_scoring_before_any_model_is_a_clear_refusal(model_bank: ModelBank):
    with pytest.raises(CommandError, match="No model has been trained yet"):
        call_command("train_models", "--score-only")

    assert not CustomerPrediction.objects.exists() and not Run.objects.exists()


def test_training_without_contacts_is_refused_and_publishes_nothing(model_bank: ModelBank):
    from campaigns.models import CampaignContact

    CampaignContact.objects.all().delete()

    with pytest.raises(RunParamsInvalid, match="the response model has nothing to learn from"):
        model_training_start(sync=True)
    with pytest.raises(CommandError, match="the response model has nothing to learn from"):
        call_command("train_models", "--sync")
    assert not Run.objects.exists() and not ModelArtefact.objects.exists()


def test_training_without_transactions_is_refused_and_publishes_nothing(branch_a):
    add_called_customers(ModelBank(), branch_a)

    with pytest.raises(CommandError, match="No transaction is booked on or before 1994-03-.*: the churn model"):
        call_command("train_models", "--sync")

    assert not Run.objects.exists() and not CurrentRun.objects.exists()


def test_training_without_a_contact_history_says_which_app_provides_it(model_bank: ModelBank):
    source = contact_history_unregister()
    try:
        with pytest.raises(RunParamsInvalid, match="No contact history is installed"):
            model_training_start(sync=True)
    finally:
        contact_history_register(source)
    assert not Run.objects.exists()


def test_a_run_whose_training_fails_leaves_the_published_run_current(model_bank: ModelBank, trained: Run):
    # Too short a history for the churn label's window: the run fails in its prepare step.
    run = model_training_start(as_of=dt.date(1993, 9, 1), sync=True)

    assert run.status == Run.Status.FAILED and "The churn model cannot be trained" in run.error
    assert current_run(kind=MODEL_TRAINING) == trained
    assert not ModelArtefact.objects.filter(run=run).exists()
    assert not CustomerPrediction.objects.filter(run=run).exists()


def test_train_models_sync_prints_the_figures(model_bank: ModelBank, capsys):
    call_command("train_models", "--sync", "--seed", "3")

    run = Run.objects.get(kind=MODEL_TRAINING)
    assert run.params["seed"] == 3
    out = capsys.readouterr().out
    assert f"Run #{run.pk} published as of {AS_OF}" in out and "time-ordered AUC" in out and "churn" in out


def test_customer_option_needs_score_only(model_bank: ModelBank):
    with pytest.raises(CommandError, match="--customer only goes with --score-only"):
        call_command("train_models", "--customer", "1")


@pytest.mark.parametrize("options", [("--as-of", "2024-01-01"), ("--seed", "3"), ("--sync",)])
def test_score_only_refuses_the_options_it_would_ignore(model_bank: ModelBank, options):
    with pytest.raises(CommandError, match=f"scores with the published models as they are; drop {options[0]}"):
        call_command("train_models", "--score-only", *options)


def test_a_seed_numpy_cannot_take_is_refused(model_bank: ModelBank):
    with pytest.raises(CommandError, match="seed must be a whole number from 0 to 4294967295"):
        call_command("train_models", "--seed", str(2**32), "--sync")

    assert not Run.objects.filter(kind=MODEL_TRAINING).exists()


@pytest.mark.parametrize(("migration_name", "task_name", "when"), [
    ("0006_model_training_schedule", "model_training_weekly", ("0", "4", "30")),  # Sundays
    ("0014_new_customers_scoring_schedule", "new_customers_scoring_nightly", ("*", "5", "0")),
])
def test_the_training_and_new_customer_scoring_schedules_are_seeded_once_and_editable(
        db, migration_name, task_name, when):
    migration = importlib.import_module(f"segmentation.migrations.{migration_name}")
    migration.fill_schedule(apps, None)
    migration.fill_schedule(apps, None)

    task = PeriodicTask.objects.get(task=f"segmentation.tasks.{task_name}")

    assert task.enabled and (task.crontab.day_of_week, task.crontab.hour, task.crontab.minute) == when


def test_weekly_task_without_data_logs_and_starts_nothing(db, caplog):
    assert model_training_weekly() is None

    assert "not started" in caplog.text and not Run.objects.exists()


def test_unknown_parameters_are_refused(model_bank: ModelBank):
    from crm_bank.runs.services import run_start

    with pytest.raises(RunError, match="Unknown parameters: colour"):
        run_start(kind=MODEL_TRAINING, params={"colour": "red"}, as_of=AS_OF)


def test_the_nightly_scoring_before_any_training_logs_and_writes_nothing(db, caplog):
    from segmentation.tasks import new_customers_scoring_nightly

    assert new_customers_scoring_nightly() == 0

    assert "not done: No model has been trained yet" in caplog.text and not CustomerPrediction.objects.exists()


def test_the_nightly_scoring_scores_the_newcomers_and_leaves_the_scored_alone(
        model_bank: ModelBank, trained: Run, branch_a):
    from segmentation.tasks import new_customers_scoring_nightly

    newcomer = CustomerFactory(home_branch=branch_a, marital_status="single", attributes={"age": 29})
    account_for(newcomer, product=ProductFactory(code="PT-CURRENT"), balance=500)
    before = _scores(trained)

    assert new_customers_scoring_nightly() == 1
    assert new_customers_scoring_nightly() == 0

    after = _scores(trained)
    assert set(after) - set(before) == {newcomer.pk}
    assert {pk: after[pk] for pk in before} == before
