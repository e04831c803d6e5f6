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
