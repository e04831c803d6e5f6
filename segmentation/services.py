"""The value-scoring run: its steps for the run framework, and how a run is asked for.

1. prepare: customer-id ranges (chunk_ranges), after checking there is data as of the run's date.
2. process_chunk: the SQL feature step for the range (segmentation/features.py).
3. finish: one statement in PostgreSQL turns the run's features into CustomerValue rows (the value
   formula and the Pareto tiers of segmentation/scoring.py, in their SQL form; the rank in the
   branch; the tier each customer had in the run being superseded) and ValueTierSummary rows, and
   returns the sums the metrics are made of: a million customers never travel to Python and back.
The framework publishes the run (the current pointer flips last), so pages never see half of it.
"""

from __future__ import annotations

import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_bank.bulk import quoted_table, tables_analyze
from crm_bank.runs.errors import RunError, RunParamsInvalid
from crm_bank.runs.models import CurrentRun, Run
from crm_bank.runs.params import params_chunk_size, params_unknown_refuse
from crm_bank.runs.registry import RunKind, chunk_ranges
from crm_bank.runs.services import run_start
from customers.models import AccountHolder, Customer, Transaction
from segmentation import scoring
from segmentation.features import currency_params, customer_features_write, run_rates, window_bounds
from segmentation.models import CustomerFeatures, CustomerValue, ValueTierSummary

VALUE_SCORING = "value_scoring"
VALUE_SCORING_VERSION = "value-1"
CHUNK_SIZE = 20_000


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
    if not Customer.objects.exists():
        raise RunParamsInvalid(_("There are no customers to score."))
    if not data_before(as_of):
        raise RunParamsInvalid(
            _("No transaction is booked on or before %(date)s: choose a later as-of date.") % {"date": as_of}
        )


# Parameters

def value_params_clean(params: dict) -> dict:
    """The stored params: the formula's weights and the tier cut-offs, with defaults filled in."""
    weights_given = params.get("weights") or {}
    try:
        weights = scoring.ValueWeights(**weights_given)
        a_share = float(params.get("a_share", 0.80))
        b_share = float(params.get("b_share", 0.15))
    except (TypeError, ValueError) as exc:
        raise RunParamsInvalid(_("Invalid value-scoring parameters: %(error)s") % {"error": exc}) from None
    if not (0 < a_share < 1 and b_share >= 0 and a_share + b_share <= 1):
        raise RunParamsInvalid(_("Tier cut-offs must satisfy 0 < A < 1 and A + B ≤ 1."))
    params_unknown_refuse(params, allowed={"weights", "a_share", "b_share", "chunk_size", "currency", "rates"})
    chunk_size = params_chunk_size(params, default=CHUNK_SIZE)
    return {"weights": weights.as_dict(), "a_share": a_share, "b_share": b_share, "chunk_size": chunk_size,
            **currency_params(params)}


# The run kind's steps

def value_scoring_prepare(run: Run) -> list[tuple[int, int]]:
    try:
        _check_data(run.as_of)
    except RunParamsInvalid as exc:
        raise RunError(str(exc)) from None
    return chunk_ranges(Customer.objects.all(), size=int(run.params.get("chunk_size", CHUNK_SIZE)))


def value_scoring_chunk(run: Run, lo: int, hi: int) -> int:
    return customer_features_write(run_id=run.pk, as_of=run.as_of, lo=lo, hi=hi, rates=run_rates(run.params))


def value_scoring_finish(run: Run) -> dict:
    """Values, ranks, tiers, tier changes and the tier summary of the whole run in one statement
    inside PostgreSQL (scoring's formula and tier rule in SQL); returns the metrics. A RunError, and
    nothing kept (the framework's transaction rolls back), when there is nothing to rank."""
    customers = CustomerFeatures.objects.filter(run=run).count()
    if not customers:
        raise RunError(_("No customer was a customer on %(date)s: nothing to score.") % {"date": run.as_of})
    previous_run_id = CurrentRun.objects.filter(kind=run.kind).values_list("run_id", flat=True).first()
    a_cut, b_cut = scoring.tier_cuts(a_share=run.params.get("a_share", 0.80), b_share=run.params.get("b_share", 0.15))
    lorenz_counts = scoring.lorenz_counts(customers)
    with connection.cursor() as cursor:
        for model in (CustomerValue, ValueTierSummary):  # a finish repeated in the same transaction
            cursor.execute(f"DELETE FROM {quoted_table(model)} WHERE run_id = %s", [run.pk])
        # The run's million rows sorted twice (by value, by branch and value) in memory, not on disk.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(_VALUES_SQL, {
            "run": run.pk, "previous": previous_run_id, "a_cut": a_cut, "b_cut": b_cut, "n": customers,
            "top": scoring.top_count(customers, 0.2), "lorenz": lorenz_counts,
            **scoring.ValueWeights(**run.params.get("weights", {})).as_dict(),
        })
        (total, weighted, top_value, lorenz, tier_counts, tier_shares) = cursor.fetchone()
        if not total or not total > 0:
            raise RunError(_("Every customer's value is zero as of %(date)s: nothing to rank.") % {"date": run.as_of})
        cursor.execute(
            f"SELECT previous_tier || '→' || tier, count(*) FROM {quoted_table(CustomerValue)}"
            " WHERE run_id = %s AND previous_tier <> '' AND previous_tier <> tier GROUP BY 1 ORDER BY 1",
            [run.pk],
        )
        movers = dict(cursor.fetchall())
    tables_analyze(CustomerValue._meta.db_table)
    return {
        "customers": customers,
        "value_total": round(total, 2),
        "top20_share": round(top_value / total, 6),
        "gini": round(scoring.gini_from_sums(n=customers, total=total, weighted=weighted), 6),
        "tier_counts": {tier: int(count) for tier, count in zip(scoring.TIERS, tier_counts, strict=True)},
        "tier_value_shares": {tier: round(share, 6) for tier, share in zip(scoring.TIERS, tier_shares, strict=True)},
        "movers": {key: int(count) for key, count in movers.items()},
        # (share of customers, share of value) from the most valuable down: the Pareto chart.
        "lorenz": [[0.0, 0.0]] + [[round(c / customers, 6), round(min(1.0, share), 6)]
                                  for c, share in zip(lorenz_counts[1:], lorenz, strict=True)],
        "previous_run": previous_run_id,
    }


# scoring.pareto and scoring.group_ranks in SQL, over the run's features: the value rounded to cents,
# rank (ties by customer id), share of the total, running share, tier by the share of everyone above,
# rank in the home branch, the tier in the run being superseded. The CTE `ranked` is read three times:
# the value rows (written in customer order, so the primary key grows at its right-hand end), the
# tier summary per (branch, RM, tier), and the figures the metrics are made of.
_VALUES_SQL = f"""
WITH valued AS (
    SELECT f.customer_id, f.branch_id, f.rm_id, round(({scoring.value_sql(alias="f")}) * 100) / 100 AS value
    FROM {quoted_table(CustomerFeatures)} f WHERE f.run_id = %(run)s
),
shared AS (
    SELECT v.*, row_number() OVER by_value AS rank, v.value / nullif(sum(v.value) OVER (), 0) AS share
    FROM valued v
    WINDOW by_value AS (ORDER BY v.value DESC, v.customer_id)
),
running AS (
    SELECT s.*, least(sum(s.share) OVER (ORDER BY s.rank ROWS UNBOUNDED PRECEDING), 1.0) AS cumulative_share
    FROM shared s
),
ranked AS MATERIALIZED (
    SELECT r.customer_id, r.branch_id, r.rm_id, r.value, r.rank,
           row_number() OVER (PARTITION BY r.branch_id ORDER BY r.value DESC, r.customer_id) AS branch_rank,
           coalesce(r.share, 0) AS share, coalesce(r.cumulative_share, 0) AS cumulative_share,
           {scoring.tier_sql(before="(r.cumulative_share - r.share)")} AS tier,
           coalesce(p.tier, '') AS previous_tier
    FROM running r
    LEFT JOIN {quoted_table(CustomerValue)} p ON p.run_id = %(previous)s AND p.customer_id = r.customer_id
),
stored AS (
    INSERT INTO {quoted_table(CustomerValue)} (
        run_id, customer_id, branch_id, rm_id, value, rank, branch_rank, share, cumulative_share, tier, previous_tier
    )
    SELECT %(run)s, customer_id, branch_id, rm_id, value, rank, branch_rank, share, cumulative_share, tier,
           previous_tier
    FROM ranked ORDER BY customer_id
),
summary AS (
    INSERT INTO {quoted_table(ValueTierSummary)} (run_id, branch_id, rm_id, tier, customers, value)
    SELECT %(run)s, branch_id, rm_id, tier, count(*), round(sum(value) * 100) / 100
    FROM ranked GROUP BY branch_id, rm_id, tier
)
SELECT sum(value), sum((%(n)s + 1 - rank) * value),
       sum(value) FILTER (WHERE rank <= %(top)s),
       array_agg(cumulative_share ORDER BY rank) FILTER (WHERE rank = ANY(%(lorenz)s::bigint[])),
       ARRAY[{", ".join(f"count(*) FILTER (WHERE tier = '{t}')" for t in scoring.TIERS)}],
       ARRAY[{", ".join(f"coalesce(sum(share) FILTER (WHERE tier = '{t}'), 0)" for t in scoring.TIERS)}]
FROM ranked
"""


VALUE_SCORING_KIND = RunKind(
    name=VALUE_SCORING,
    version=VALUE_SCORING_VERSION,
    result_tables=(CustomerFeatures._meta.db_table, CustomerValue._meta.db_table),
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
