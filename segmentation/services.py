"""The value-scoring run: its steps for the run framework, and how a run is asked for.

1. prepare: customer-id ranges (features.feature_chunk_ranges), after checking there is data as of the run's date.
2. process_chunk: the value formula's four inputs for the range, by the feature step's SQL cut
   down to them (segmentation/features.py: value_inputs_write), into CustomerValueInputs.
3. finish: the run's compact (customer, branch, RM, four amounts) frame into pandas, the value
   formula and the Pareto tiers (segmentation/scoring.py), the tier each customer had in the run
   being superseded, all COPYed into CustomerValue in one statement; the metrics.
The framework publishes the run (the current pointer flips last), so pages never see half of it.
"""

from __future__ import annotations

import datetime

import pandas as pd
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_bank.bulk import quoted_table, run_rows_frame, run_rows_replace
from crm_bank.runs.errors import RunError, RunParamsInvalid
from crm_bank.runs.models import CurrentRun, Run
from crm_bank.runs.params import as_of_check, params_chunk_size, params_unknown_refuse
from crm_bank.runs.registry import RunKind
from crm_bank.runs.selectors import run_rows_written
from crm_bank.runs.services import run_start
from customers.models import AccountHolder, Customer, Transaction
from segmentation import scoring
from segmentation.features import (
    FEATURE_CHUNK_SIZE,
    currency_params,
    feature_chunk_ranges,
    run_rates,
    value_inputs_write,
    window_bounds,
)
from segmentation.models import CustomerValue, CustomerValueInputs, ValueTierSummary

VALUE_SCORING = "value_scoring"
VALUE_SCORING_VERSION = "value-1"


# Data checks (cheap at a million customers: one index probe per account at most)

def latest_transaction_date() -> datetime.date | None:
    """The default as-of date: the day of the latest transaction (the demo's data ends in 1994).
    One probe of the booking-date index."""
    latest = Transaction.objects.aggregate(latest=Max("booked_at"))["latest"]
    return timezone.localtime(latest).date() if latest else None


def data_before(as_of: datetime.date) -> bool:
    """Is any transaction of an owned account booked on or before `as_of`?"""
    _start, end = window_bounds(as_of)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {AccountHolder._meta.db_table} h WHERE h.role = 'owner' AND EXISTS ("
            f" SELECT 1 FROM {Transaction._meta.db_table} t WHERE t.account_id = h.account_id AND t.booked_at < %s))",
            [end],
        )
        return cursor.fetchone()[0]


def _check_data(as_of: datetime.date | None) -> None:
    if as_of is None:
        raise RunParamsInvalid(_("There are no transactions: value scoring needs data to score."))
    as_of_check(as_of)
    if not Customer.objects.exists():
        raise RunParamsInvalid(_("There are no customers to score."))
    if not data_before(as_of):
        raise RunParamsInvalid(
            _("No transaction is booked on or before %(date)s: choose a later as-of date.") % {"date": as_of}
        )


# Parameters

def value_params_clean(params: dict) -> dict:
    """The stored params: the formula's weights and the tier cut-offs, the bank's settings
    (CRM_VALUE_WEIGHTS, CRM_TIER_A_SHARE, CRM_TIER_B_SHARE) filling in what `params` leaves out."""
    try:
        weights = scoring.ValueWeights(**{**settings.CRM_VALUE_WEIGHTS, **(params.get("weights") or {})})
        a_share = float(params.get("a_share", settings.CRM_TIER_A_SHARE))
        b_share = float(params.get("b_share", settings.CRM_TIER_B_SHARE))
    except (TypeError, ValueError) as exc:
        raise RunParamsInvalid(_("Invalid value-scoring parameters: %(error)s") % {"error": exc}) from None
    if not (0 < a_share < 1 and b_share >= 0 and a_share + b_share <= 1):
        raise RunParamsInvalid(_("Tier cut-offs must satisfy 0 < A < 1 and A + B ≤ 1."))
    params_unknown_refuse(params, allowed={"weights", "a_share", "b_share", "chunk_size", "currency", "rates"})
    chunk_size = params_chunk_size(params, default=FEATURE_CHUNK_SIZE)
    return {"weights": weights.as_dict(), "a_share": a_share, "b_share": b_share, "chunk_size": chunk_size,
            **currency_params(params)}


# The run kind's steps

def value_scoring_prepare(run: Run) -> list[tuple[int, int]]:
    try:
        _check_data(run.as_of)
    except RunParamsInvalid as exc:
        raise RunError(str(exc)) from None
    return feature_chunk_ranges(run.params)


def value_scoring_chunk(run: Run, lo: int, hi: int) -> int:
    return value_inputs_write(run_id=run.pk, as_of=run.as_of, lo=lo, hi=hi, rates=run_rates(run.params))


def value_scoring_finish(run: Run) -> dict:
    """Values, ranks, tiers and tier changes of the whole run in one COPY; returns the metrics."""
    previous_run_id = CurrentRun.objects.filter(kind=run.kind).values_list("run_id", flat=True).first()
    written = run_rows_written(run)
    inputs = _inputs_with_previous_tier(run.pk, previous_run_id, rows=written)
    if inputs.empty:
        raise RunError(_("No customer was a customer on %(date)s: nothing to score.") % {"date": run.as_of})
    _check_every_chunk_read(written=written, read=len(inputs))
    values = scoring.customer_value(inputs, scoring.ValueWeights(**run.params.get("weights", {})))
    values["value"] = values["value"].round(2)
    if not values["value"].sum() > 0:
        raise RunError(_("Every customer's value is zero as of %(date)s: nothing to rank.") % {"date": run.as_of})
    ranked = scoring.pareto(
        values[["customer_id", "value"]],
        a_share=run.params.get("a_share", 0.80), b_share=run.params.get("b_share", 0.15),
    )
    ranked = ranked.merge(inputs[["customer_id", "branch_id", "rm_id", "previous_tier"]], on="customer_id",
                          how="left", validate="one_to_one")
    ranked["rm_id"] = ranked["rm_id"].astype("Int64")
    ranked["branch_rank"] = scoring.group_ranks(ranked, "branch_id")
    _write_values(run, ranked)
    _write_tier_summary(run, ranked)
    return {**_metrics(ranked), "previous_run": previous_run_id}


def _check_every_chunk_read(*, written: int, read: int) -> None:
    """The rows read must be the rows the chunks wrote: a chunk written elsewhere (a worker of an
    older release, during a deploy, wrote the whole features row instead) must not publish a run
    without its customers."""
    if read != written:
        raise RunError(
            _("The chunks wrote %(written)s customers' inputs but %(read)s were found; run it again.")
            % {"written": written, "read": read}
        )


def _inputs_with_previous_tier(run_id: int, previous_run_id: int | None, *, rows: int | None = None) -> pd.DataFrame:
    """The run's compact inputs frame (customer, branch, RM, the formula's inputs), each customer
    with the tier they had in the run this one will supersede ("" when not in it): one read, the
    previous run's rows joined on their primary key. `rows`: how many the chunks wrote (the check
    of the read on two connections, bulk.frame_from_key_ranges)."""
    previous = (
        f"LEFT JOIN {quoted_table(CustomerValue)} p"
        f" ON p.run_id = {int(previous_run_id)} AND p.customer_id = f.customer_id"
        # the part's key range on both sides: a part reads its half of the previous run, not all of it
        " AND p.customer_id BETWEEN %(key_low)s AND %(key_high)s"
        if previous_run_id is not None else ""
    )
    sql = (
        f"SELECT f.customer_id, f.branch_id, f.rm_id, {', '.join(f'f.{c}::float8' for c in scoring.VALUE_INPUTS)},"
        f" {'p.tier' if previous else 'NULL::text'} AS previous_tier"
        f" FROM {quoted_table(CustomerValueInputs)} f {previous} WHERE f.run_id = {int(run_id)}"
        " AND f.customer_id BETWEEN %(key_low)s AND %(key_high)s"
    )
    # Its halves at once on two connections once the chunks have committed them (a million customers'
    # inputs took 1.4 s on one).
    inputs = run_rows_frame(CustomerValueInputs, run_id, sql, {}, rows=rows)
    tiers = inputs["previous_tier"].astype(object)
    inputs["previous_tier"] = tiers.where(tiers.notna(), "")
    return inputs


# What the pages filter a run's value rows on (the list's tier filter, the movers): their statistics
# are refreshed before the publish; the rest by the VACUUM (ANALYZE) right after it.
VALUE_FILTER_COLUMNS = ("run_id", "customer_id", "tier", "previous_tier")


def _write_values(run: Run, ranked: pd.DataFrame) -> None:
    run_rows_replace(CustomerValue, run.pk, ranked[[
        "customer_id", "branch_id", "rm_id", "value", "rank", "branch_rank", "share", "cumulative_share", "tier",
        "previous_tier",
    ]], analyze_columns=VALUE_FILTER_COLUMNS)


def _write_tier_summary(run: Run, ranked: pd.DataFrame) -> None:
    """Customers and value per (branch, RM, tier): the tier tables' rows."""
    summary = (
        ranked.groupby(["branch_id", "rm_id", "tier"], dropna=False, sort=True)["value"]
        .agg(customers="size", value="sum").reset_index()
    )
    ValueTierSummary.objects.filter(run=run).delete()
    ValueTierSummary.objects.bulk_create(
        ValueTierSummary(
            run=run, branch_id=int(row.branch_id), rm_id=None if pd.isna(row.rm_id) else int(row.rm_id),
            tier=row.tier, customers=int(row.customers), value=round(float(row.value), 2),
        )
        for row in summary.itertuples(index=False)
    )


def _metrics(ranked: pd.DataFrame) -> dict:
    tier_counts = ranked["tier"].value_counts()
    moved = ranked[(ranked["previous_tier"] != "") & (ranked["previous_tier"] != ranked["tier"])]
    movers = (moved["previous_tier"] + "→" + moved["tier"]).value_counts()
    return {
        "customers": len(ranked),
        "value_total": round(float(ranked["value"].sum()), 2),
        "top20_share": round(scoring.top_share(ranked["value"], 0.2), 6),
        "gini": round(scoring.gini(ranked["value"]), 6),
        "tier_counts": {tier: int(tier_counts.get(tier, 0)) for tier in scoring.TIERS},
        "tier_value_shares": {
            tier: round(float(ranked.loc[ranked["tier"] == tier, "share"].sum()), 6) for tier in scoring.TIERS
        },
        "movers": {key: int(count) for key, count in sorted(movers.items())},
        # (share of customers, share of value) from the most valuable down: the Pareto chart.
        "lorenz": [[round(x, 6), round(y, 6)] for x, y in scoring.lorenz_points(ranked["value"])],
        "branches": _branch_pareto(ranked),
    }


def _branch_pareto(ranked: pd.DataFrame) -> dict[str, dict]:
    """The Pareto figures within each home branch (by branch id): its customers, the share of its
    value its top 20 % bring, its Gini."""
    return {
        str(int(branch_id)): {"customers": int(len(values)), "top20_share": round(scoring.top_share(values, 0.2), 6),
                              "gini": round(scoring.gini(values), 6)}
        for branch_id, values in ranked.groupby("branch_id", sort=True)["value"]
    }


VALUE_SCORING_KIND = RunKind(
    name=VALUE_SCORING,
    version=VALUE_SCORING_VERSION,
    result_tables=(CustomerValueInputs._meta.db_table, CustomerValue._meta.db_table),
    prepare=value_scoring_prepare,
    process_chunk=value_scoring_chunk,
    finish=value_scoring_finish,
    clean_params=value_params_clean,
    default_as_of=latest_transaction_date,
)


# Asking for a run (command, page, nightly task)

def value_scoring_start(
    *,
    as_of: datetime.date | None = None,
    params: dict | None = None,
    started_by: AbstractBaseUser | None = None,
    sync: bool = False,
) -> Run:
    """Queues (or with `sync`, runs) a value-scoring run as of `as_of` (default: the latest
    transaction date). Refused with a RunError, nothing written, when there is nothing to score
    as of that date, the params are invalid or a run is already queued or running."""
    as_of = as_of or latest_transaction_date()
    _check_data(as_of)
    return run_start(kind=VALUE_SCORING, params=params, as_of=as_of, started_by=started_by, sync=sync)
