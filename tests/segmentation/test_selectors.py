"""Selectors of the published value run: one customer's summary, Lorenz points, tiers, movers."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_bank.runs.models import Run
from customers.models import Account, Customer
from segmentation import selectors
from segmentation.services import value_scoring_start
from tests.segmentation.conftest import AS_OF

pytestmark = pytest.mark.django_db


@pytest.fixture
def first_run(small_bank) -> Run:
    return value_scoring_start(as_of=AS_OF, sync=True)


def test_customer_value_summary_in_one_query(small_bank, first_run, django_assert_num_queries):
    Account.objects.filter(pk=small_bank.x_loan.pk).update(principal=0)
    second = value_scoring_start(as_of=AS_OF, sync=True)

    with django_assert_num_queries(1):
        summary = selectors.customer_value_summary(customer_id=small_bank.x.pk)

    assert (summary.value, summary.tier, summary.previous_tier, summary.tier_change) == (
        140.6, "B", "A", "down")
    assert (summary.rank, summary.customers, summary.branch_rank) == (2, 3, 1)
    assert summary.share == pytest.approx(140.6 / 1640.6) and summary.cumulative_share == pytest.approx(1640.6 / 1640.6)
    assert summary.drivers == {"deposits": 90.0, "lending": 0.0, "cards": 0.6, "fees": 50.0}
    assert summary.main_driver == "deposits" and summary.top_percent == pytest.approx(200 / 3)
    assert summary.run_id == second.pk and summary.as_of == AS_OF and summary.published_at is not None


def test_customer_value_summary_of_first_run_is_new_and_none_when_not_scored(small_bank, first_run):
    assert selectors.customer_value_summary(customer_id=small_bank.w.pk).tier_change == "new"
    assert selectors.customer_value_summary(customer_id=small_bank.late.pk) is None


def test_customer_value_summary_before_any_run_is_none(small_bank):
    assert selectors.customer_value_summary(customer_id=small_bank.x.pk) is None


def test_lorenz_points_end_at_all_customers_and_all_value(first_run):
    points = selectors.value_lorenz_points(run=first_run)

    assert points[0] == (0, 0) and [x for x, _ in points[1:]] == pytest.approx([1 / 3, 2 / 3, 1], abs=1e-6)
    assert points[1][1] == pytest.approx(1500 / 2140.6) and points[-1][1] == pytest.approx(1)


def test_tiers_by_branch_and_rm(small_bank, first_run, rm_a):
    branches = {row.code: row.tiers for row in selectors.value_tiers_by_branch(run=first_run)}
    rms = {row.rm_id: row.tiers for row in selectors.value_tier_mix_by_rm(run=first_run)}

    assert (branches["A01"].a, branches["A01"].c, branches["A01"].value) == (1, 1, 640.6)
    assert (branches["B02"].a, branches["B02"].total) == (1, 1)
    assert (rms[rm_a.pk].a, rms[rm_a.pk].total) == (1, 1) and rms[None].total == 2


def test_customers_in_tier_filters_the_customer_list(small_bank, first_run):
    tier_a = Customer.objects.filter(selectors.customer_in_tier(tier="A"))

    assert set(tier_a) == {small_bank.x, small_bank.w}
    assert set(Customer.objects.filter(selectors.customer_in_tier(tier="C"))) == {small_bank.y}


def test_customers_in_tier_before_any_run_is_nobody(small_bank):
    assert not Customer.objects.filter(selectors.customer_in_tier(tier="A")).exists()
    assert selectors.customer_tier_filter(tier="A").count_by_merge_join is False


def test_tier_filter_counts_small_tiers_by_merge_join_and_the_bulk_tier_by_probes(small_bank, first_run):
    # The run's own metrics decide: a tier of at most a quarter of its customers is walked in id order.
    first_run.metrics = {**first_run.metrics, "customers": 100, "tier_counts": {"A": 10, "B": 25, "C": 65}}
    first_run.save(update_fields=["metrics"])

    chosen = {tier: selectors.customer_tier_filter(tier=tier).count_by_merge_join for tier in "ABC"}

    assert chosen == {"A": True, "B": True, "C": False}
    assert set(Customer.objects.filter(selectors.customer_tier_filter(tier="A").condition)) == {small_bank.x,
                                                                                              small_bank.w}
    with pytest.raises(ValueError, match="Unknown value tier"):
        selectors.customer_tier_filter(tier="Z")


def test_a_merge_joined_capped_count_counts_the_same_and_tells_postgresql_so(small_bank, first_run):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crm_bank.ui.paginators import capped_count

    def planner_settings() -> tuple:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('enable_nestloop'), current_setting('enable_hashjoin')")
            return cursor.fetchone()

    in_branch = Customer.objects.filter(home_branch=small_bank.x.home_branch).filter(
        selectors.customer_tier_filter(tier="A").condition)
    before = planner_settings()

    with CaptureQueriesContext(connection) as queries:
        merged = capped_count(in_branch, merge_join=True)

    assert merged == capped_count(in_branch) == 1  # x; w is tier A in branch B
    statements = [query["sql"] for query in queries.captured_queries]
    assert statements.index("SET LOCAL enable_nestloop = off") < next(
        i for i, sql in enumerate(statements) if sql.startswith("SELECT COUNT(*)"))
    assert capped_count(Customer.objects.all(), cap=1) == 2  # counts no further than the cap + 1
    # The planner settings end with the count, even inside the caller's transaction (here the test's).
    assert planner_settings() == before
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_hashjoin = on")
    capped_count(in_branch, merge_join=True)
    assert planner_settings()[1] == "on"


def test_movers_page_counts_from_metrics(small_bank, first_run):
    Account.objects.filter(pk=small_bank.x_loan.pk).update(principal=0)
    run = value_scoring_start(as_of=AS_OF, sync=True)

    page = selectors.value_movers(run=run, from_tier="A", to_tier="B", per_page=1, page=5)

    assert page.count == 1 and page.number == 1 and [r.customer_id for r in page.rows] == [small_bank.x.pk]
    assert selectors.value_movers(run=run, from_tier="B", to_tier="A").rows == []


def test_active_run_is_the_queued_one(small_bank, first_run):
    assert selectors.value_run_active() is None
    queued = value_scoring_start(as_of=dt.date(2024, 6, 1))

    assert selectors.value_run_active() == queued
