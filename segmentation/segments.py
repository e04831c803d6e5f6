"""The segmentation run: its steps for the run framework, the live count of a rule, how a run is asked for.

1. prepare: customer-id ranges (features.feature_chunk_ranges), after checking there are customers and data as of
   the run's date.
2. process_chunk: the SQL feature step for the range (segmentation/features.py), written for THIS
   run (a value-scoring run keeps only the value formula's four inputs), so a segmentation is
   reproducible from its own run row (same data, params and seed → same segments).
3. finish: the compact per-customer frame (features renamed to segmentation/columns.py's names,
   the value by the 80/20 formula, whether the customer ever responded to a campaign) read into
   pandas with one COPY; k-means (segmentation/clustering.py), the rule segments' masks, names
   and profiles (segmentation/profiles.py), the transition matrix against the published run (its
   memberships read on another connection while k-means works); memberships COPYed in one
   statement while the profiles are worked out, one LearnedSegment row per segment; the metrics.
The framework publishes the run (the current pointer flips last), so pages never see half of it.

The active rule segments are copied into the run's params when it is asked for, so a rule edited
while the run works does not change it, and the run can be repeated exactly.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record
from crm_bank.bulk import frame_from_query_ahead, run_rows_frame, run_rows_replace
from crm_bank.runs.errors import RunError, RunParamsInvalid
from crm_bank.runs.models import CurrentRun, Run
from crm_bank.runs.params import as_of_check, params_unknown_refuse, seed_check
from crm_bank.runs.registry import RunKind
from crm_bank.runs.selectors import run_rows_written
from crm_bank.runs.services import run_start
from customers.models import Customer
from segmentation import scoring
from segmentation.clustering import learned_segments
from segmentation.columns import CLUSTER_FEATURES
from segmentation.features import (
    FEATURE_CHUNK_SIZE,
    currency_params,
    customer_features_write,
    feature_chunk_ranges,
    product_count_columns,
    run_rates,
)
from segmentation.models import CustomerFeatures, LearnedSegment, RuleSegment, SegmentMembership
from segmentation.profiles import ENTERED, LEFT, segment_profiles, transition_matrix
from segmentation.rules import Rule, RuleError, parse_rule
from segmentation.services import data_before, latest_transaction_date

SEGMENTATION = "segmentation"
SEGMENTATION_VERSION = "segmentation-1"
DEFAULT_SEED = 7
DEFAULT_K_RANGE = (3, 8)
# The most segments a run may be asked for (the Run now form's limit too).
MAX_K = 30
SAMPLE_SIZE = 20_000


# The compact frame: one SQL for the run's finish step and for a rule's live count

def frame_sql(*, run_id: int, key_range: bool = False) -> tuple[str, dict[str, Any]]:
    """SELECT of the run's per-customer frame, columns named as segmentation/columns.py names them;
    with `key_range`, of the customers between %(key_low)s and %(key_high)s (bulk.frame_from_key_ranges).

    `value` is the 80/20 formula (scoring.customer_value, default rates) in SQL, so a rule on value
    counts the same customers live as the run's pandas mask does. `responded_before` is the feature
    step's (features.py): 1 for a customer who had accepted an offer (or whose previous campaign was
    a success) by the run's date, 0 for one contacted without success, NULL for one never contacted.
    """
    weights = scoring.ValueWeights()
    mix = product_count_columns("f")
    sql = f"""SELECT f.customer_id,
        f.recency_days::float8 AS recency_days,
        f.frequency::float8 AS frequency_12m,
        f.money_in::float8 AS monetary_in_12m,
        f.money_out::float8 AS monetary_out_12m,
        f.deposit_balance::float8 AS deposit_balance,
        f.average_balance::float8 AS average_balance,
        f.loans_outstanding::float8 AS loans_outstanding,
        f.product_count::float8 AS product_count,
        {mix},
        f.tenure_days::float8 AS tenure_days,
        f.age::float8 AS age,
        f.digital_share,
        f.contacts::float8 AS contacts_12m,
        f.complaints::float8 AS complaints_12m,
        f.assisted_share,
        {scoring.value_sql(alias="f")} AS value,
        f.responded_before
    FROM {connection.ops.quote_name(CustomerFeatures._meta.db_table)} f
    WHERE f.run_id = %(run)s"""
    if key_range:
        sql += " AND f.customer_id BETWEEN %(key_low)s AND %(key_high)s"
    return sql, {"run": run_id, **weights.as_dict()}


def read_frame(*, run_id: int, rows: int | None = None) -> pd.DataFrame:
    """The run's frame as a DataFrame through COPY … TO STDOUT, by customer id; its halves read at
    once on two connections when they are committed (bulk.frame_from_key_ranges; `rows`, the rows
    the run's chunks wrote, is its check)."""
    sql, params = frame_sql(run_id=run_id, key_range=True)
    return run_rows_frame(CustomerFeatures, run_id, f"{sql} ORDER BY f.customer_id", params, rows=rows)


def rule_segment_count(*, rule: Rule, run: Run) -> int:
    """How many customers of `run`'s features the rule holds for: the count the form shows live.

    The same frame and the same three-valued logic as the run's mask (rules.Rule.to_sql)."""
    sql, params = frame_sql(run_id=run.pk)
    where, values = rule.to_sql("f.")
    named = {f"rule_{i}": value for i, value in enumerate(values)}
    where = where.replace("%s", "{}").format(*(f"%({name})s" for name in named))
    with connection.cursor() as cursor:
        # The rule's own alias f points at the frame, not at the features table inside it.
        cursor.execute(f"SELECT count(*) FROM ({sql}) f WHERE {where}", {**params, **named})
        return cursor.fetchone()[0]


# Parameters

def segmentation_params_clean(params: dict) -> dict:
    """The stored params: k (None: chosen by silhouette), seed, k range, sample size, chunk size and
    the snapshot of the rule segments; RunParamsInvalid for anything else."""
    params_unknown_refuse(
        params, allowed={"k", "seed", "k_range", "sample_size", "chunk_size", "rules", "currency", "rates"})
    k = params.get("k")
    try:
        seed = _whole(params.get("seed", DEFAULT_SEED))
        k = None if k is None else _whole(k)
        k_range = [_whole(v) for v in params.get("k_range", DEFAULT_K_RANGE)]
        sample_size = _whole(params.get("sample_size", SAMPLE_SIZE))
        chunk_size = _whole(params.get("chunk_size", FEATURE_CHUNK_SIZE))
    except (TypeError, ValueError):
        raise RunParamsInvalid(
            _("k, the seed, the k range, the sample and chunk sizes must be whole numbers.")
        ) from None
    if k is not None and k < 2:
        raise RunParamsInvalid(_("k must be at least 2 (got %(k)s): one segment is no segmentation.") % {"k": k})
    if len(k_range) != 2 or k_range[0] < 2 or k_range[1] < k_range[0]:
        raise RunParamsInvalid(_("The k range must be two numbers, 2 ≤ low ≤ high."))
    if seed < 0 or sample_size < 2 or chunk_size < 1:
        raise RunParamsInvalid(_("The seed must be ≥ 0, the sample size ≥ 2 and the chunk size ≥ 1."))
    seed_check(seed)
    if k is not None and k > MAX_K:
        raise RunParamsInvalid(_("k must be at most %(max)s (got %(k)s): more segments than an analyst can read.")
                               % {"max": MAX_K, "k": k})
    rules = [_rule_snapshot(item) for item in params.get("rules", [])]
    for item in rules:
        _parsed(item)
    return {"k": k, "seed": seed, "k_range": k_range, "sample_size": sample_size, "chunk_size": chunk_size,
            "rules": rules, **currency_params(params)}


def _whole(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(value)
    return int(value)


def _rule_snapshot(item: Any) -> dict:
    try:
        return {"id": int(item["id"]), "name": str(item["name"]), "rule": str(item["rule"])}
    except (TypeError, KeyError, ValueError):
        raise RunParamsInvalid(_("Each rule segment needs an id, a name and a rule.")) from None


def _parsed(item: dict) -> Rule:
    try:
        return parse_rule(item["rule"])
    except RuleError as exc:
        raise RunParamsInvalid(
            _("The rule segment “%(name)s” no longer parses: %(error)s; correct or deactivate it.")
            % {"name": item["name"], "error": _(exc.template) % exc.params}
        ) from None


# The run kind's steps

def _check_data(as_of: datetime.date | None, k: int | None) -> None:
    if as_of is None:
        raise RunParamsInvalid(_("There are no transactions: segmentation needs data to learn from."))
    as_of_check(as_of)
    # The feature step's own rule for who is a customer on the date.
    customers_then = Customer.objects.filter(Q(customer_since__isnull=True) | Q(customer_since__lte=as_of))
    if not customers_then.exists():
        raise RunParamsInvalid(_("There are no customers to segment as of %(date)s.") % {"date": as_of})
    if not data_before(as_of):
        raise RunParamsInvalid(
            _("No transaction is booked on or before %(date)s: choose a later as-of date.") % {"date": as_of}
        )
    # Counted only as far as k (a million customers counted took up to a second, twice a run).
    customers = customers_then.order_by().values("pk")[:k].count() if k is not None else None
    if customers is not None and k > customers:
        raise RunParamsInvalid(
            _("k = %(k)s is more segments than there are customers (%(customers)s).")
            % {"k": k, "customers": customers}
        )


def segmentation_prepare(run: Run) -> list[tuple[int, int]]:
    try:
        _check_data(run.as_of, run.params.get("k"))
    except RunParamsInvalid as exc:
        raise RunError(str(exc)) from None
    return feature_chunk_ranges(run.params)


def segmentation_chunk(run: Run, lo: int, hi: int) -> int:
    return customer_features_write(run_id=run.pk, as_of=run.as_of, lo=lo, hi=hi, rates=run_rates(run.params))


def segmentation_finish(run: Run) -> dict:
    """Segments and memberships of the whole run; returns the metrics (see the module docstring)."""
    try:
        rules = [(item, _parsed(item)) for item in run.params.get("rules", [])]
    except RunParamsInvalid as exc:
        raise RunError(str(exc)) from None
    with connection.cursor() as cursor:
        # The run's rows by the primary key, not a scan of every kept run's features (all in memory).
        cursor.execute("SET LOCAL random_page_cost = 1.1")
    frame = read_frame(run_id=run.pk, rows=run_rows_written(run))
    if frame.empty:
        raise RunError(_("No customer was a customer on %(date)s: nothing to segment.") % {"date": run.as_of})
    previous_run_id = CurrentRun.objects.filter(kind=run.kind).values_list("run_id", flat=True).first()
    # The published run's memberships (for the transition matrix) are read meanwhile on another
    # connection, while k-means works out this run's segments.
    previous_memberships = _previous_memberships_ahead(previous_run_id)
    try:
        result = learned_segments(
            frame, k=run.params.get("k"), seed=int(run.params.get("seed", DEFAULT_SEED)),
            k_range=tuple(run.params.get("k_range", DEFAULT_K_RANGE)),
            sample_size=int(run.params.get("sample_size", SAMPLE_SIZE)),
        )
    except ValueError as exc:
        raise RunError(_("The customers cannot be segmented: %(error)s") % {"error": exc}) from None
    labels = result.labels.reindex(frame["customer_id"].to_numpy())
    rule_members = {item["id"]: rule.mask(frame).to_numpy() for item, rule in rules}
    transitions = _transitions(previous_memberships, labels)
    # The profiles (pandas, this process) are worked out while PostgreSQL writes the memberships.
    with ThreadPoolExecutor(max_workers=1) as pool:
        profiling = pool.submit(segment_profiles, frame, result.labels)
        _write_memberships(run, frame["customer_id"], labels.to_numpy(), rule_members)
        profiles = profiling.result()
    _write_segments(run, result.names, profiles, result.centroids)
    return {
        "customers": len(frame),
        "k": result.k,
        "k_fixed": run.params.get("k") is not None,
        "seed": int(run.params.get("seed", DEFAULT_SEED)),
        "silhouette": {str(k): round(score, 6) for k, score in sorted(result.silhouette.items())},
        "sizes": {str(number): int(size) for number, size in profiles["size"].items()},
        "names": {str(number): name for number, name in result.names.items()},
        "rule_sizes": {str(rule_id): int(mask.sum()) for rule_id, mask in rule_members.items()},
        "previous_run": previous_run_id,
        "transitions": transitions,
        # Enough to label a new customer as this run would (clustering.assign_segments).
        "model": result.params,
    }


def _previous_memberships_ahead(previous_run_id: int | None) -> Callable[[], pd.DataFrame] | None:
    """The published run's (customer, segment) rows, read ahead (bulk.frame_from_query_ahead); None
    without a published run."""
    if previous_run_id is None:
        return None
    return frame_from_query_ahead(
        f"SELECT customer_id, segment FROM {SegmentMembership._meta.db_table} WHERE run_id = %(run)s",
        {"run": previous_run_id},
    )


def _transitions(previous_memberships: Callable[[], pd.DataFrame] | None, labels: pd.Series) -> dict | None:
    """Counts of customers from each segment of the published run to each of this one."""
    if previous_memberships is None:
        return None
    previous = previous_memberships()
    matrix = transition_matrix(previous.set_index("customer_id")["segment"], labels)
    segments = [int(s) for s in matrix.index if s != ENTERED]
    return {
        "segments": segments,
        "counts": [[int(matrix.loc[a, b]) for b in segments] for a in segments],
        "left": [int(matrix.loc[a, LEFT]) for a in segments],
        "entered": [int(matrix.loc[ENTERED, b]) for b in segments],
    }


def _write_memberships(run: Run, customer_ids: pd.Series, labels: np.ndarray, rule_members: dict) -> None:
    # Each customer's rule ids, ascending; most customers match none and share one empty list.
    none: list[int] = []
    rule_ids = sorted(rule_members)
    if rule_ids:
        matrix = np.column_stack([rule_members[rule_id] for rule_id in rule_ids])
        ids = np.array(rule_ids)
        arrays = [ids[row].tolist() if row.any() else none for row in matrix]
    else:
        arrays = [none] * len(customer_ids)
    run_rows_replace(SegmentMembership, run.pk, pd.DataFrame({
        "customer_id": customer_ids.to_numpy(),
        "segment": labels.astype("int64"),
        "rule_segments": pd.Series(arrays, dtype=object),
    }), analyze_columns=("run_id", "customer_id", "segment"))


def _json_number(value: Any) -> float | int | None:
    """jsonb has no NaN or infinity: a missing statistic is stored as null."""
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    return int(number) if float(number).is_integer() and abs(number) < 2**53 else round(number, 6)


def _write_segments(run: Run, names: dict[int, str], profiles: pd.DataFrame, centroids: pd.DataFrame) -> None:
    LearnedSegment.objects.filter(run=run).delete()
    LearnedSegment.objects.bulk_create(
        LearnedSegment(
            run=run, number=int(number), name=names[int(number)], size=int(profiles.loc[number, "size"]),
            profile={column: _json_number(value) for column, value in profiles.loc[number].items()},
            centroid={column: _json_number(centroids.loc[number, column]) for column in CLUSTER_FEATURES},
        )
        for number in profiles.index
    )


SEGMENTATION_KIND = RunKind(
    name=SEGMENTATION,
    version=SEGMENTATION_VERSION,
    result_tables=(CustomerFeatures._meta.db_table, SegmentMembership._meta.db_table),
    # The 360° page's segment path shows a customer's last five runs.
    keep_published=5,
    prepare=segmentation_prepare,
    process_chunk=segmentation_chunk,
    finish=segmentation_finish,
    clean_params=segmentation_params_clean,
    default_as_of=latest_transaction_date,
)


# Asking for a run (command, page, nightly task)

def segmentation_start(
    *,
    as_of: datetime.date | None = None,
    k: int | None = None,
    seed: int | None = None,
    started_by: AbstractBaseUser | None = None,
    sync: bool = False,
) -> Run:
    """Queues (or with `sync`, runs) a segmentation run as of `as_of` (default: the latest
    transaction date) with the active rule segments as they are now. Refused with a RunError,
    nothing written, when there is nothing to segment as of that date, k is below 2 or above the
    number of customers, a rule no longer parses, or a run is already queued or running."""
    params: dict[str, Any] = {"k": k}
    if seed is not None:
        params["seed"] = seed
    params["rules"] = [
        {"id": pk, "name": name, "rule": rule}
        for pk, name, rule in RuleSegment.objects.filter(active=True).order_by("pk").values_list("pk", "name", "rule")
    ]
    params = segmentation_params_clean(params)
    as_of = as_of or latest_transaction_date()
    _check_data(as_of, params["k"])
    return run_start(kind=SEGMENTATION, params=params, as_of=as_of, started_by=started_by, sync=sync)


# Rule segments (the analysts' form)

def rule_segment_create(
    *, name: str, rule: str, name_zh: str = "", description: str = "", created_by: AbstractBaseUser | None = None,
) -> RuleSegment:
    """Saves a rule segment (the next run computes its members); RuleError if the rule does not parse."""
    parse_rule(rule)
    with transaction.atomic():
        segment = RuleSegment.objects.create(
            name=name, name_zh=name_zh, rule=rule, description=description,
            created_by=created_by if created_by is not None and created_by.is_authenticated else None,
        )
        audit_record(
            actor=created_by, action=AuditEvent.Action.CREATE, outcome=AuditEvent.Outcome.ALLOWED,
            object_type="rule_segment", object_id=segment.pk, detail={"name": name, "rule": rule},
        )
    return segment
