"""The value run's finish computes in SQL what scoring.pareto, group_ranks, gini, top_share and
lorenz_points define in pandas: both forms on the same random features give the same rows and
metrics (ties, zero values, several branches, RMs and none)."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_bank.runs.errors import RunError
from crm_bank.runs.models import CurrentRun, Run
from segmentation import scoring
from segmentation.models import CustomerFeatures, CustomerValue, ValueTierSummary
from segmentation.services import VALUE_SCORING, value_scoring_finish
from tests.customers.factories import CustomerFactory
from tests.segmentation.conftest import AS_OF

pytestmark = pytest.mark.django_db

POOL = 24
# Few distinct amounts, so that equal values (ties broken by customer id) are common.
amounts = st.sampled_from([Decimal("0"), Decimal("-50.00"), Decimal("100.00"), Decimal("2500.50"), Decimal("0.01"),
                           Decimal("98765.43")])
feature_rows = st.lists(
    st.tuples(amounts, amounts, st.integers(0, 40), amounts, st.booleans(), st.booleans()),
    min_size=1, max_size=POOL,
)


@pytest.fixture
def pool(branch_a, branch_b, rm_a):
    customers = [CustomerFactory(home_branch=branch_a if i % 3 else branch_b) for i in range(POOL)]
    return customers, rm_a


def _run(features: list[CustomerFeatures], **params) -> Run:
    # Succeeded: one run of a kind may be active at a time, and finish does not look at the status.
    run = Run.objects.create(kind=VALUE_SCORING, status=Run.Status.SUCCEEDED, as_of=AS_OF,
                             params={"weights": scoring.ValueWeights().as_dict(), **params})
    for row in features:
        row.run = run
    CustomerFeatures.objects.bulk_create(features)
    return run


def _features(customers, rm, rows) -> list[CustomerFeatures]:
    return [
        CustomerFeatures(
            customer=customer, branch_id=customer.home_branch_id if same_branch else customers[0].home_branch_id,
            rm=rm if with_rm else None, frequency=0, money_in=0, money_out=0, deposit_balance=deposit,
            loans_outstanding=loans, card_payments=cards, fees_paid=fees, product_count=1,
        )
        for customer, (deposit, loans, cards, fees, same_branch, with_rm) in zip(customers, rows, strict=False)
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=feature_rows, cuts=st.sampled_from([(0.8, 0.15), (0.5, 0.0), (0.7, 0.3), (0.95, 0.05)]))
def test_sql_finish_gives_what_the_pandas_definitions_give(pool, rows, cuts):
    with transaction.atomic():  # each example's rows rolled back
        _compare(pool, rows, *cuts)
        transaction.set_rollback(True)


def _compare(pool, rows, a_share, b_share):
    customers, rm = pool
    features = _features(customers, rm, rows)
    frame = pd.DataFrame({
        "customer_id": [f.customer_id for f in features], "branch_id": [f.branch_id for f in features],
        "rm_id": pd.array([f.rm_id for f in features], dtype="Int64"),
        **{column: [float(getattr(f, column)) for f in features] for column in scoring.VALUE_INPUTS},
    })
    values = scoring.customer_value(frame)
    values["value"] = values["value"].round(2)
    if not values["value"].sum() > 0:
        run = _run(features, a_share=a_share, b_share=b_share)
        with pytest.raises(RunError, match="value is zero"), transaction.atomic():  # the run's transaction
            value_scoring_finish(run)
        assert not CustomerValue.objects.filter(run=run).exists()
        return
    expected = scoring.pareto(values[["customer_id", "value"]], a_share=a_share, b_share=b_share)
    expected = expected.merge(frame[["customer_id", "branch_id", "rm_id"]], on="customer_id")
    expected["branch_rank"] = scoring.group_ranks(expected, "branch_id")

    run = _run(features, a_share=a_share, b_share=b_share)
    metrics = value_scoring_finish(run)

    stored = {v.customer_id: v for v in CustomerValue.objects.filter(run=run)}
    assert len(stored) == len(expected)
    for row in expected.itertuples():
        got = stored[row.customer_id]
        assert (got.rank, got.branch_rank, got.tier, got.previous_tier) == (row.rank, row.branch_rank, row.tier, "")
        assert got.value == pytest.approx(row.value, abs=1e-9)
        assert got.share == pytest.approx(row.share, abs=1e-12)
        assert got.cumulative_share == pytest.approx(row.cumulative_share, abs=1e-12)
    assert metrics["customers"] == len(expected)
    assert metrics["value_total"] == pytest.approx(round(expected["value"].sum(), 2))
    assert metrics["top20_share"] == pytest.approx(round(scoring.top_share(expected["value"]), 6), abs=1e-6)
    assert metrics["gini"] == pytest.approx(round(scoring.gini(expected["value"]), 6), abs=1e-6)
    assert [x for x, _ in metrics["lorenz"]] == [round(x, 6) for x, _ in scoring.lorenz_points(expected["value"])]
    assert [y for _, y in metrics["lorenz"]] == pytest.approx(
        [round(y, 6) for _, y in scoring.lorenz_points(expected["value"])], abs=1e-6)
    counts = expected["tier"].value_counts()
    assert metrics["tier_counts"] == {tier: int(counts.get(tier, 0)) for tier in scoring.TIERS}
    summary = {(s.branch_id, s.rm_id, s.tier): (s.customers, s.value) for s in ValueTierSummary.objects.filter(run=run)}
    grouped = expected.groupby(
        ["branch_id", "rm_id", "tier"], dropna=False)["value"].agg(["size", "sum"])
    assert summary == {
        (branch, None if pd.isna(rm_id) else int(rm_id), tier): (int(size), pytest.approx(total, abs=0.005))
        for (branch, rm_id, tier), (size, total) in grouped.iterrows()
    }


def test_sql_finish_records_the_superseded_runs_tiers_and_the_movers(pool):
    customers, rm = pool
    first_rows = [(Decimal("100000"), 0, 0, 0, True, True), (Decimal("10"), 0, 0, 0, True, True),
                  (Decimal("15000"), 0, 0, 0, True, False)]
    first = _run(_features(customers, rm, first_rows))
    value_scoring_finish(first)
    CurrentRun.objects.update_or_create(kind=VALUE_SCORING, defaults={"run": first, "published_at": timezone.now()})
    swapped = [(Decimal("10"), 0, 0, 0, True, True), (Decimal("100000"), 0, 0, 0, True, True),
               (Decimal("15000"), 0, 0, 0, True, False), (Decimal("1"), 0, 0, 0, True, False)]
    second = _run(_features(customers, rm, swapped))

    metrics = value_scoring_finish(second)

    tiers = {v.customer_id: (v.previous_tier, v.tier) for v in CustomerValue.objects.filter(run=second)}
    assert [tiers[c.pk] for c in customers[:4]] == [("A", "C"), ("C", "A"), ("B", "B"), ("", "C")]
    assert metrics["movers"] == {"A→C": 1, "C→A": 1} and metrics["previous_run"] == first.pk


def test_sql_finish_without_features_is_refused_and_writes_nothing(pool):
    run = _run([])
    with pytest.raises(RunError, match="nothing to score"):
        value_scoring_finish(run)
    assert not CustomerValue.objects.filter(run=run).exists()
