"""The model-training run: its steps for the run framework, scoring new customers, how a run is asked for.

1. prepare: checks there is something to learn from as of the run's date, reads the training frames
   from the database (the contact history's outcomes with the customers' profiles and holdings; the
   accounts' transactions), trains the response model (propensity.py) and the churn model
   (churn.py), stores each as a ModelArtefact of the run (digest recorded), and returns the
   customer-id ranges. Set-wide and small: tens of thousands of rows, seconds to a minute.
2. process_chunk: loads the run's models (digest-checked, cached per process), scores the range's
   customers and COPYs CustomerPrediction rows: propensity and churn risk, each with its strongest
   driver or the reason there is no score (segmentation/prediction_frames.py).
3. finish: the published segmentation run's segments × the service actions: predicted response
   and expected value per contact (segmentation/actions.py), as SegmentAction rows; the metrics.
The framework publishes the run (the current pointer flips last), so pages never see half of it.

The as-of date bounds what the models learn from: contacts made and transactions booked on or
before it. Its default is the later of the latest contact and the latest transaction (the demo's
campaign ends in 2010, its transactions in 1994). The churn model's windows end on the last
transaction day on or before the as-of date.
"""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext as _

from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record
from crm_bank.bulk import copy_frame, frame_from_query, quoted_table, tables_analyze
from crm_bank.runs.errors import RunError, RunParamsInvalid
from crm_bank.runs.models import CurrentRun, Run
from crm_bank.runs.params import as_of_check, params_unknown_refuse, seed_check
from crm_bank.runs.registry import RunKind, chunk_ranges
from crm_bank.runs.services import run_start
from customers.models import Account, AccountHolder, Customer
from segmentation import actions, churn, prediction_frames, propensity
from segmentation.contact_history import ContactHistoryMissing, contacts_sql
from segmentation.features import currency_params, product_count_columns, run_rates
from segmentation.model_store import model_artefact_store, models_load
from segmentation.models import (
    CustomerFeatures,
    CustomerPrediction,
    LearnedSegment,
    ModelArtefact,
    SegmentAction,
    SegmentMembership,
)
from segmentation.prediction_data import (
    CustomerSelection,
    last_transaction_day,
    latest_data_date,
    response_scoring_rows,
    response_training_rows,
    transaction_rows,
)
from segmentation.scoring import ValueWeights
from segmentation.segments import SEGMENTATION

MODEL_TRAINING = "model_training"
MODEL_TRAINING_VERSION = "models-1"
CHUNK_SIZE = 20_000
DEFAULT_SEED = 7
# The churn label's horizon: 89 days is the PKDD file's last quarter (1994-01-01 to 03-30).
CHURN_HORIZON_DAYS = 89
CHURN_LOOKBACK_DAYS = 90
CHURN_MIN_TRANSACTIONS = 5
CHURN_DECLINE_RATIO = 0.8
# The churn model learns from at most about this many accounts (every n-th account id, so the same
# data gives the same sample): every account's whole history would not fit in memory at 50M rows,
# and a model learns nothing more from millions of accounts than from tens of thousands.
CHURN_TRAINING_ACCOUNTS = 50_000


class ModelNotTrained(RunError):
    """Scoring was asked for before any model-training run was published."""


# Parameters and data checks

def training_params_clean(params: dict) -> dict:
    """The stored params: seed, chunk size, the churn label's horizon and the channel costs."""
    params_unknown_refuse(
        params, allowed={"seed", "chunk_size", "churn_horizon_days", "channel_costs", "currency", "rates"})
    try:
        seed = int(params.get("seed", DEFAULT_SEED))
        chunk_size = int(params.get("chunk_size", CHUNK_SIZE))
        horizon = int(params.get("churn_horizon_days", CHURN_HORIZON_DAYS))
        costs = {str(k): float(v) for k, v in dict(params.get("channel_costs", actions.CHANNEL_COSTS)).items()}
    except (TypeError, ValueError):
        raise RunParamsInvalid(
            _("The seed, the chunk size and the churn horizon must be whole numbers, the channel costs numbers.")
        ) from None
    if seed < 0 or chunk_size < 1 or horizon < 1 or any(cost < 0 or cost != cost for cost in costs.values()):
        raise RunParamsInvalid(_("The seed and the costs must be ≥ 0, the chunk size and the horizon ≥ 1."))
    seed_check(seed)
    return {"seed": seed, "chunk_size": chunk_size, "churn_horizon_days": horizon, "channel_costs": costs,
            **currency_params(params)}


def _check_data(as_of: datetime.date | None) -> None:
    """RunParamsInvalid, for the reader, when either model would have nothing to learn from."""
    if as_of is None:
        raise RunParamsInvalid(_("There are no campaign contacts and no transactions: the models have nothing to "
                                 "learn from."))
    as_of_check(as_of)
    try:
        sql = contacts_sql()
    except ContactHistoryMissing as exc:
        raise RunParamsInvalid(str(exc)) from None
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FILTER (WHERE responded), count(*) FILTER (WHERE NOT responded) FROM ({sql}) k"
            " WHERE k.responded IS NOT NULL AND k.contacted_on <= %s",
            [as_of],
        )
        accepted, declined = cursor.fetchone()
    if not accepted or not declined:
        raise RunParamsInvalid(
            _("No campaign contacts with both outcomes (accepted and not) on or before %(date)s "
              "(%(accepted)s accepted, %(declined)s not): the response model has nothing to learn from.")
            % {"date": as_of, "accepted": accepted, "declined": declined}
        )
    if last_transaction_day(on_or_before=as_of) is None:
        raise RunParamsInvalid(
            _("No transaction is booked on or before %(date)s: the churn model has nothing to learn from.")
            % {"date": as_of}
        )


# Training (the prepare step)

def _reason(exc: Exception) -> str:
    """A library's error in a line or two for the run's page: scikit-learn's failed fits come with
    pages of traceback, whose last line says what was wrong."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if len(lines) <= 1:
        return lines[0] if lines else type(exc).__name__
    return f"{lines[0]} … {lines[-1]}"[:400]


def _train_response(run: Run, seed: int) -> propensity.ResponseModel:
    rates = run_rates(run.params)
    rows = response_training_rows(as_of=run.as_of, rates=rates)
    try:
        frame = prediction_frames.response_training_frame(rows)
        model = propensity.train_response_model(frame, seed=seed)
    except ValueError as exc:
        raise RunError(_("The response model cannot be trained: %(error)s") % {"error": _reason(exc)}) from None
    pairs = rows.fillna({"product_category": "", "channel": ""}).groupby(["product_category", "channel"]).size()
    model.report.update({
        "as_of": run.as_of.isoformat(),
        "trained_on": [{"product_category": category, "channel": channel, "contacts": int(n)}
                       for (category, channel), n in pairs.items()],
        "scoring_as_of": run.as_of.isoformat(),
        # The balances it learnt from were in the reporting currency at these rates: scoring converts alike.
        "rates": rates,
        "scoring_context": prediction_frames.scoring_context(frame["contact_date"], as_of=pd.Timestamp(run.as_of)),
        "reference": prediction_frames.reference_row(frame, propensity.FEATURES),
    })
    return model


def _train_churn(run: Run, seed: int, horizon: int) -> churn.ChurnModel:
    data_end = last_transaction_day(on_or_before=run.as_of)
    cutoff = data_end - datetime.timedelta(days=horizon - 1)
    accounts = Account.objects.count()
    step = max(1, accounts // CHURN_TRAINING_ACCOUNTS)
    transactions = transaction_rows(
        before=data_end + datetime.timedelta(days=1), accounts="t.account_id %% %(step)s = 0", params={"step": step},
    )
    try:
        model = churn.train_churn_model(
            transactions, cutoff=cutoff, horizon_days=horizon, seed=seed, lookback_days=CHURN_LOOKBACK_DAYS,
            min_transactions=CHURN_MIN_TRANSACTIONS, decline_ratio=CHURN_DECLINE_RATIO,
        )
        eligible = churn.churn_features(transactions, cutoff=cutoff, lookback_days=CHURN_LOOKBACK_DAYS)
    except ValueError as exc:
        raise RunError(
            _("The churn model cannot be trained on the transactions up to %(end)s (cutoff %(cutoff)s, horizon "
              "%(days)s days): %(error)s") % {"end": data_end, "cutoff": cutoff, "days": horizon, "error": _reason(exc)}
        ) from None
    judged = eligible[prediction_frames.churn_eligibility(
        eligible, lookback_days=CHURN_LOOKBACK_DAYS, min_transactions=CHURN_MIN_TRANSACTIONS) == ""]
    in_sample = model.predict_proba(judged)
    model.report.update({
        "as_of": run.as_of.isoformat(),
        "data_end": data_end.isoformat(),
        # Scoring reads the 90 days up to the data's last day and judges the horizon after it.
        "scoring_cutoff": (data_end + datetime.timedelta(days=1)).isoformat(),
        "reference": prediction_frames.reference_row(judged, churn.FEATURES),
        "score_quantiles": [float(q) for q in np.quantile(in_sample, np.linspace(0, 1, 101))],
    })
    return model


def model_training_prepare(run: Run) -> list[tuple[int, int]]:
    try:
        _check_data(run.as_of)
    except RunParamsInvalid as exc:
        raise RunError(str(exc)) from None
    seed = int(run.params.get("seed", DEFAULT_SEED))
    response = _train_response(run, seed)
    churn_model = _train_churn(run, seed, int(run.params.get("churn_horizon_days", CHURN_HORIZON_DAYS)))
    model_artefact_store(run=run, name=ModelArtefact.Name.RESPONSE, model=response)
    model_artefact_store(run=run, name=ModelArtefact.Name.CHURN, model=churn_model)
    return chunk_ranges(Customer.objects.all(), size=int(run.params.get("chunk_size", CHUNK_SIZE)))


# Scoring (the chunks, and new customers)

def predictions_compute(*, run_id: int, customers: CustomerSelection) -> pd.DataFrame:
    """customer_id, PROPENSITY_COLUMNS and CHURN_COLUMNS of the selected customers, with run `run_id`'s models."""
    models = models_load(run_id=run_id)
    response, churn_model = models[ModelArtefact.Name.RESPONSE], models[ModelArtefact.Name.CHURN]
    rows = response_scoring_rows(as_of=pd.Timestamp(response.report["scoring_as_of"]).date(), customers=customers,
                                 rates=response.report.get("rates") or run_rates({}))
    if rows.empty:
        return rows
    owned = customers.sql("h.customer_id")
    params = customers.params
    holders = frame_from_query(
        f"SELECT h.customer_id, h.account_id FROM {quoted_table(AccountHolder)} h WHERE h.role = 'owner' AND {owned}",
        params,
    )
    transactions = transaction_rows(
        before=pd.Timestamp(churn_model.report["scoring_cutoff"]).date(),
        accounts=f"t.account_id IN (SELECT h.account_id FROM {quoted_table(AccountHolder)} h"
                 f" WHERE h.role = 'owner' AND {owned})",
        params=params,
    )
    scores = prediction_frames.response_scores(response, rows)
    churned = prediction_frames.churn_scores(churn_model, transactions, holders, rows["customer_id"].to_numpy())
    return scores.merge(churned, on="customer_id", how="left", validate="one_to_one")


_PREDICTION_COLUMNS = ("customer_id", *prediction_frames.PROPENSITY_COLUMNS, *prediction_frames.CHURN_COLUMNS)


def _copy_predictions(run_id: int, scores: pd.DataFrame, *, into: str) -> None:
    out = scores.loc[:, list(_PREDICTION_COLUMNS)].copy()
    out.insert(0, "run_id", run_id)
    for column in ("propensity_detail", "churn_detail"):
        out[column] = out[column].fillna("").astype(str).str.slice(0, 80)
    copy_frame(CustomerPrediction, out, table=into)


def model_training_chunk(run: Run, lo: int, hi: int) -> int:
    scores = predictions_compute(run_id=run.pk, customers=CustomerSelection(lo=lo, hi=hi))
    table = quoted_table(CustomerPrediction)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE run_id = %s AND customer_id BETWEEN %s AND %s", [run.pk, lo, hi])
    if not scores.empty:
        _copy_predictions(run.pk, scores, into=table)
    return len(scores)


def predictions_score_new_customers(*, customer_ids: list[int] | None = None) -> tuple[Run, int]:
    """Scores the customers the published model-training run has no row for (created since, say),
    or those of `customer_ids` among them, with that run's models; returns (run, customers scored).

    ModelNotTrained, nothing written, before the first run is published; ArtefactRefused when a
    stored model fails its digest. Rows are added to the published run, never changed: a customer
    it already scored keeps that score.
    """
    run = Run.objects.filter(pk__in=CurrentRun.objects.filter(kind=MODEL_TRAINING).values("run_id")).first()
    if run is None:
        raise ModelNotTrained(
            _("No model has been trained yet: run “python manage.py train_models” (or Train now on the models "
              "page) first. Nothing was scored.")
        )
    unscored = Customer.objects.exclude(
        Exists(CustomerPrediction.objects.filter(run_id=run.pk, customer_id=OuterRef("pk")))
    )
    if customer_ids is not None:
        unscored = unscored.filter(pk__in=customer_ids)
    ids = list(unscored.order_by("pk").values_list("pk", flat=True))
    scored = 0
    table = quoted_table(CustomerPrediction)
    for start in range(0, len(ids), CHUNK_SIZE):
        batch = ids[start: start + CHUNK_SIZE]
        scores = predictions_compute(run_id=run.pk, customers=CustomerSelection(ids=tuple(batch)))
        if scores.empty:
            continue
        # Each batch and its audit record commit together: a later batch that fails leaves the
        # earlier ones written and accounted for.
        with transaction.atomic(), connection.cursor() as cursor:
            # Through a temporary table: a customer scored meanwhile by another call keeps its row.
            cursor.execute(f"CREATE TEMPORARY TABLE new_predictions (LIKE {table}) ON COMMIT DROP")
            _copy_predictions(run.pk, scores, into="new_predictions")
            cursor.execute(f"INSERT INTO {table} SELECT * FROM new_predictions ON CONFLICT DO NOTHING")
            added = cursor.rowcount
            audit_record(
                actor=None, action=AuditEvent.Action.CREATE, outcome=AuditEvent.Outcome.ALLOWED,
                object_type="model_scores", object_id=run.pk, detail={"customers": added},
            )
        scored += added
    return run, scored


# Per-segment actions (the finish step)

def _segment_frame(*, segmentation_run_id: int, run_id: int) -> pd.DataFrame:
    mix = product_count_columns("f")
    return frame_from_query(
        f"""SELECT m.customer_id, m.segment, f.age::float8 AS age, f.tenure_days::float8 AS tenure_days,
               f.recency_days::float8 AS recency_days, f.frequency::float8 AS frequency_12m,
               f.money_in::float8 AS monetary_in_12m, f.money_out::float8 AS monetary_out_12m, f.digital_share,
               f.deposit_balance::float8 AS deposit_balance, f.loans_outstanding::float8 AS loans_outstanding,
               f.card_payments::float8 AS card_payments, {mix}, p.propensity
        FROM {quoted_table(CustomerFeatures)} f
        JOIN {quoted_table(SegmentMembership)} m
          ON m.run_id = f.run_id AND m.customer_id = f.customer_id
        LEFT JOIN {quoted_table(CustomerPrediction)} p ON p.run_id = %(run)s AND p.customer_id = f.customer_id
        WHERE f.run_id = %(segmentation_run)s
        ORDER BY m.customer_id""",
        {"run": run_id, "segmentation_run": segmentation_run_id},
    )


def _segment_actions_write(run: Run) -> dict:
    """The action table of the published segmentation run's segments; the metrics it adds."""
    segmentation_run_id = CurrentRun.objects.filter(kind=SEGMENTATION).values_list("run_id", flat=True).first()
    SegmentAction.objects.filter(run=run).delete()
    if segmentation_run_id is None:
        return {"segment_actions": None, "segment_actions_note": "no published segmentation run"}
    frame = _segment_frame(segmentation_run_id=segmentation_run_id, run_id=run.pk)
    if frame.empty:
        return {"segment_actions": None, "segment_actions_note": "the segmentation run has no members"}
    seed = int(run.params.get("seed", DEFAULT_SEED))
    look_alike = actions.look_alike_propensities(frame, seed=seed)
    report = ModelArtefact.objects.filter(run=run, name=ModelArtefact.Name.RESPONSE).values_list("report", flat=True)
    measured = {(pair["product_category"], pair["channel"]) for pair in (report.first() or {}).get("trained_on", [])}
    table = actions.segment_actions(
        frame, look_alike=look_alike, measured_pairs=measured, weights=ValueWeights(),
        channel_costs=run.params.get("channel_costs", actions.CHANNEL_COSTS),
    )
    names = dict(LearnedSegment.objects.filter(run_id=segmentation_run_id).values_list("number", "name"))
    SegmentAction.objects.bulk_create(
        SegmentAction(
            run=run, segmentation_run_id=segmentation_run_id, segment=row.segment,
            segment_name=names.get(row.segment, ""), product_category=row.product_category, channel=row.channel,
            basis=row.basis, customers=row.customers, predicted_response=row.predicted_response,
            value_per_conversion=None if pd.isna(row.value_per_conversion) else row.value_per_conversion,
            cost_per_contact=row.cost_per_contact,
            expected_value=None if pd.isna(row.expected_value) else row.expected_value,
        )
        for row in table.itertuples()
    )
    segmentation_params = Run.objects.filter(pk=segmentation_run_id).values_list("params", flat=True).first() or {}
    return {
        "segment_actions": len(table), "segmentation_run": segmentation_run_id,
        "currency": segmentation_params.get("currency", ""),
        "look_alike_auc": {category: round(auc, 6) for category, auc in look_alike.auc.items()},
        "look_alike_skipped": look_alike.skipped,
    }


def model_training_finish(run: Run) -> dict:
    """Reason counts of the run's scores, the per-segment action table, the models' headline figures."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT count(*), count(propensity), count(churn_risk), avg(propensity)
                FROM {quoted_table(CustomerPrediction)} WHERE run_id = %s""",
            [run.pk],
        )
        customers, with_propensity, with_churn, mean_propensity = cursor.fetchone()
        cursor.execute(
            f"""SELECT 'propensity', propensity_reason, count(*) FROM {quoted_table(CustomerPrediction)}
                WHERE run_id = %(run)s AND propensity IS NULL GROUP BY 2
                UNION ALL SELECT 'churn', churn_reason, count(*) FROM {quoted_table(CustomerPrediction)}
                WHERE run_id = %(run)s AND churn_risk IS NULL GROUP BY 2""",
            {"run": run.pk},
        )
        unscored: dict[str, dict[str, int]] = {"propensity": {}, "churn": {}}
        for model, reason, count in cursor.fetchall():
            unscored[model][reason] = count
    tables_analyze(CustomerPrediction._meta.db_table)
    reports = dict(ModelArtefact.objects.filter(run=run).values_list("name", "report"))
    response, churn_report = reports.get("response", {}), reports.get("churn", {})
    return {
        "customers": customers, "with_propensity": with_propensity, "with_churn_risk": with_churn,
        "mean_propensity": mean_propensity, "unscored": unscored,
        "response": {key: response.get(key) for key in (
            "time_ordered_test_auc", "one_fit_test_auc", "retrains", "stratified_5fold_auc", "capture_top20",
            "capture_top50", "brier_test", "brier_test_reference_train_prevalence", "model_family", "rows")},
        "churn": {key: churn_report.get(key) for key in (
            "test_auc", "out_of_fold_auc", "baseline_test_auc_transactions_only", "capture_top20",
            "eligible_accounts", "churned_accounts", "model_family")},
        **_segment_actions_write(run),
    }


MODEL_TRAINING_KIND = RunKind(
    name=MODEL_TRAINING,
    version=MODEL_TRAINING_VERSION,
    result_tables=(CustomerPrediction._meta.db_table,),
    prepare=model_training_prepare,
    process_chunk=model_training_chunk,
    finish=model_training_finish,
    clean_params=training_params_clean,
    default_as_of=latest_data_date,
)


# Asking for a run (command, page, weekly task)

def model_training_start(
    *,
    as_of: datetime.date | None = None,
    seed: int | None = None,
    started_by: AbstractBaseUser | None = None,
    sync: bool = False,
) -> Run:
    """Queues (or with `sync`, runs) a model-training run as of `as_of` (default: the later of the
    latest contact and the latest transaction). Refused with a RunError, nothing written, when
    either model has nothing to learn from as of that date, or a run is already queued or running."""
    params = training_params_clean({} if seed is None else {"seed": seed})
    as_of = as_of or latest_data_date()
    _check_data(as_of)
    return run_start(kind=MODEL_TRAINING, params=params, as_of=as_of, started_by=started_by, sync=sync)
