"""The value-scoring run in-process (sync): features, values, tiers, metrics, publish; bad input."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from crm_bank.runs.errors import RunAlreadyActive, RunParamsInvalid
from crm_bank.runs.models import Run
from crm_bank.runs.selectors import current_run
from crm_bank.runs.services import run_start
from customers.models import Account, AccountHolder, Transaction
from segmentation import selectors
from segmentation.models import CustomerFeatures, CustomerValue, CustomerValueInputs, ValueTierSummary
from segmentation.services import VALUE_SCORING, latest_transaction_date, value_scoring_start
from tests.segmentation.conftest import AS_OF

pytestmark = pytest.mark.django_db


def published(**kwargs) -> Run:
    run = value_scoring_start(sync=True, **kwargs)
    assert run.status == Run.Status.SUCCEEDED, run.error
    return run


def values(run: Run) -> dict[int, CustomerValue]:
    return {v.customer_id: v for v in CustomerValue.objects.filter(run=run)}


def test_latest_transaction_date_is_the_default_as_of(small_bank):
    assert latest_transaction_date() == dt.date(2024, 7, 5)


def test_value_run_publishes_values_tiers_and_metrics(small_bank, bank_admin):
    run = published(as_of=AS_OF, started_by=bank_admin, params={"chunk_size": 2})

    rows = values(run)
    x, w, y = rows[small_bank.x.pk], rows[small_bank.w.pk], rows[small_bank.y.pk]
    assert (w.value, x.value, y.value) == (1500.0, 640.6, 0.0)
    assert selectors.customer_value_summary(customer_id=x.customer_id).drivers == {
        "deposits": 90.0, "lending": 500.0, "cards": 0.6, "fees": 50.0}
    assert [(r.rank, r.tier) for r in (w, x, y)] == [(1, "A"), (2, "A"), (3, "C")]
    assert x.cumulative_share == pytest.approx(1.0) and w.share == pytest.approx(1500 / 2140.6)
    assert (w.branch_rank, x.branch_rank, y.branch_rank) == (1, 1, 2)
    assert x.previous_tier == "" and x.rm_id == small_bank.x.primary_rm_id
    assert small_bank.late.pk not in rows
    assert run.metrics["customers"] == 3 and run.metrics["value_total"] == pytest.approx(2140.6)
    assert run.metrics["tier_counts"] == {"A": 2, "B": 0, "C": 1}
    assert run.metrics["top20_share"] == pytest.approx(1500 / 2140.6, abs=1e-6)
    assert run.metrics["gini"] == pytest.approx(2 * (2 * 640.6 + 3 * 1500) / (3 * 2140.6) - 4 / 3, abs=1e-6)
    assert run.metrics["movers"] == {}
    assert run.metrics["lorenz"] == [[0.0, 0.0], [round(1 / 3, 6), round(1500 / 2140.6, 6)], [round(2 / 3, 6), 1.0],
                                     [1.0, 1.0]]
    assert run.metrics["previous_run"] is None
    # Within each home branch: x and y share one (640.6 and 0), w has the other to themselves.
    assert run.metrics["branches"] == {
        str(x.branch_id): {"customers": 2, "top20_share": 1.0, "gini": 0.5},
        str(w.branch_id): {"customers": 1, "top20_share": 1.0, "gini": 0.0}}
    summary = ValueTierSummary.objects.filter(run=run)
    assert {(s.branch_id, s.rm_id, s.tier): (s.customers, s.value) for s in summary} == {
        (x.branch_id, x.rm_id, "A"): (1, 640.6), (w.branch_id, w.rm_id, "A"): (1, 1500.0),
        (y.branch_id, y.rm_id, "C"): (1, 0.0)}
    assert run.chunks_total >= 2 and run.started_by == bank_admin and run.as_of == AS_OF
    assert current_run(kind=VALUE_SCORING) == run


def test_value_run_records_tier_changes_since_the_previous_run(small_bank):
    first = published(as_of=AS_OF)
    Account.objects.filter(pk=small_bank.x_loan.pk).update(principal=0)

    second = published(as_of=AS_OF)

    x = values(second)[small_bank.x.pk]
    assert (x.value, x.tier, x.previous_tier) == (140.6, "B", "A")
    assert second.metrics["movers"] == {"A→B": 1}
    first.refresh_from_db()
    assert first.status == Run.Status.SUPERSEDED and current_run(kind=VALUE_SCORING) == second


def test_value_run_on_the_same_data_gives_identical_results(small_bank):
    first, second = published(as_of=AS_OF), published(as_of=AS_OF)

    def result(run: Run) -> list[tuple]:
        return list(CustomerValue.objects.filter(run=run).order_by("rank").values_list(
            "customer_id", "value", "rank", "branch_rank", "tier", "cumulative_share"))

    assert result(first) == result(second)
    assert second.metrics == {**first.metrics, "previous_run": first.pk}


def test_value_run_uses_weights_from_its_params(small_bank):
    run = published(as_of=AS_OF, params={"weights": {"deposit_margin": 0, "lending_spread": 0,
                                                      "card_income_per_payment": 0, "fee_share": 1}})

    assert values(run)[small_bank.x.pk].value == 50.0
    assert selectors.customer_value_summary(customer_id=small_bank.x.pk).drivers == {
        "deposits": 0.0, "lending": 0.0, "cards": 0.0, "fees": 50.0}
    assert run.params["weights"]["fee_share"] == 1.0 and run.params["a_share"] == 0.8


def test_old_and_failed_runs_lose_their_per_customer_rows_but_the_newest_keep_theirs(small_bank):
    failed = Run.objects.create(kind=VALUE_SCORING, as_of=AS_OF, status=Run.Status.FAILED,
                                finished_at=timezone.now() - dt.timedelta(hours=1))
    just_failed = Run.objects.create(kind=VALUE_SCORING, as_of=AS_OF, status=Run.Status.FAILED,
                                     finished_at=timezone.now())  # a chunk of it may still be at work
    CustomerValue.objects.create(run=failed, customer=small_bank.x, branch=small_bank.x.home_branch, value=1, rank=1,
                                 branch_rank=1, share=1, cumulative_share=1, tier="A")
    runs = [published(as_of=AS_OF) for _ in range(4)]  # the kind keeps the newest three

    for run in (failed, *runs):
        run.refresh_from_db()
    assert failed.results_pruned_at is not None and not CustomerValue.objects.filter(run=failed).exists()
    just_failed.refresh_from_db()
    assert just_failed.results_pruned_at is None
    assert runs[0].results_pruned_at is not None
    assert not CustomerValue.objects.filter(run=runs[0]).exists()
    assert not CustomerValueInputs.objects.filter(run=runs[0]).exists()
    assert runs[0].metrics["customers"] == 3  # the run itself stays, as history
    for kept in runs[1:]:
        assert kept.results_pruned_at is None and CustomerValue.objects.filter(run=kept).count() == 3
    assert current_run(kind=VALUE_SCORING) == runs[-1]


# Bad input: a clear message, nothing written, the published run stays current

def test_value_run_as_of_before_any_data_is_refused(small_bank):
    previous = published(as_of=AS_OF)

    with pytest.raises(RunParamsInvalid, match="No transaction is booked on or before 1990-01-01"):
        value_scoring_start(as_of=dt.date(1990, 1, 1), sync=True)

    assert Run.objects.filter(kind=VALUE_SCORING).count() == 1 and current_run(kind=VALUE_SCORING) == previous


def test_value_run_with_an_account_currency_without_a_rate_is_refused(small_bank, settings):
    previous = published(as_of=AS_OF)
    Account.objects.filter(pk=small_bank.x_current.pk).update(currency="CHF")

    with pytest.raises(RunParamsInvalid, match="No exchange rate into CZK for the accounts in CHF"):
        value_scoring_start(as_of=AS_OF, sync=True)
    with pytest.raises(RunParamsInvalid, match="positive numbers"):
        value_scoring_start(as_of=AS_OF, params={"rates": {"CZK": -1}}, sync=True)
    with pytest.raises(RunParamsInvalid, match="must give 1 for the reporting currency EUR"):
        value_scoring_start(as_of=AS_OF, params={"currency": "EUR", "rates": {"CZK": 1, "CHF": 1}}, sync=True)

    assert Run.objects.filter(kind=VALUE_SCORING).count() == 1 and current_run(kind=VALUE_SCORING) == previous
    settings.CRM_CURRENCY_RATES = {"CZK": 1.0, "CHF": 20.0}
    run = value_scoring_start(as_of=AS_OF, sync=True)
    assert run.status == Run.Status.SUCCEEDED and run.params["rates"] == {"CHF": 20.0, "CZK": 1.0}
    assert run.params["currency"] == "CZK" and values(run)[small_bank.x.pk].value > 640.6  # the balance is worth more


def test_value_run_without_customers_or_transactions_is_refused(db):
    with pytest.raises(RunParamsInvalid, match="no transactions"):
        value_scoring_start(sync=True)
    with pytest.raises(RunParamsInvalid, match="no customers"):
        value_scoring_start(as_of=AS_OF, sync=True)

    assert not Run.objects.exists()


def test_value_run_where_every_value_is_zero_fails_and_publishes_nothing(small_bank):
    previous = published(as_of=AS_OF)
    # Activity, but no balances, loans, card payments or fees: nothing of value.
    Account.objects.update(balance=0, principal=None)
    Transaction.objects.filter(kind__in=["fee", "card_pay"]).delete()

    run = value_scoring_start(as_of=AS_OF, sync=True)

    assert run.status == Run.Status.FAILED and "value is zero" in run.error
    assert current_run(kind=VALUE_SCORING) == previous
    assert not CustomerValue.objects.filter(run=run).exists()


def test_value_run_started_directly_before_any_data_fails_in_prepare(small_bank):
    run = run_start(kind=VALUE_SCORING, as_of=dt.date(1990, 1, 1), sync=True)

    assert run.status == Run.Status.FAILED and run.error.startswith("prepare: No transaction is booked")
    assert current_run(kind=VALUE_SCORING) is None and not CustomerValueInputs.objects.filter(run=run).exists()


@pytest.mark.parametrize(("params", "message"), [
    ({"weights": {"deposit_margin": -1}}, "deposit_margin"),
    ({"weights": {"nonsense": 1}}, "nonsense"),
    ({"a_share": 1.2}, "cut-offs"),
    ({"k": 3}, "Unknown parameters: k"),
])
def test_value_run_with_invalid_params_is_refused(small_bank, params, message):
    with pytest.raises(RunParamsInvalid, match=message):
        value_scoring_start(as_of=AS_OF, params=params)

    assert not Run.objects.exists()


def test_value_run_while_another_is_queued_is_refused(small_bank, django_capture_on_commit_callbacks):
    queued = value_scoring_start(as_of=AS_OF)  # the broker is not reached: on_commit never fires here

    with pytest.raises(RunAlreadyActive):
        value_scoring_start(as_of=AS_OF)

    assert Run.objects.get().pk == queued.pk


def test_value_features_only_count_owned_accounts(small_bank):
    run = published(as_of=AS_OF)

    authorised = AccountHolder.objects.get(customer=small_bank.x, role=AccountHolder.Role.AUTHORISED)
    assert authorised.account.balance == Decimal("7777.00")
    assert CustomerValueInputs.objects.get(run=run, customer=small_bank.x).deposit_balance == Decimal("6000.00")
    assert not CustomerFeatures.objects.filter(run=run).exists()  # the value run writes only its inputs


def test_value_run_whose_chunks_rows_are_not_all_found_fails_and_publishes_nothing(small_bank, monkeypatch):
    """A chunk written elsewhere (a worker of the previous release wrote the whole features row)
    must not publish a run without those customers."""
    from segmentation import services

    previous = published(as_of=AS_OF)
    write = services.value_inputs_write

    def written_elsewhere(**kwargs) -> int:
        written = write(**kwargs)
        CustomerValueInputs.objects.filter(run_id=kwargs["run_id"], customer=small_bank.x).delete()
        return written

    monkeypatch.setattr(services, "value_inputs_write", written_elsewhere)
    run = value_scoring_start(as_of=AS_OF, sync=True)

    assert run.status == Run.Status.FAILED
    assert run.error == "finish: The chunks wrote 3 customers' inputs but 2 were found; run it again."
    assert current_run(kind=VALUE_SCORING) == previous and not CustomerValue.objects.filter(run=run).exists()


def test_the_upgrade_moves_kept_value_runs_inputs_and_stops_a_value_run_at_work(small_bank):
    """Migration 0016: a kept value run's four inputs move out of the features table (its features
    rows go), a value run still at work is failed, a segmentation run's features stay."""
    import importlib

    from django.apps import apps
    from django.db import connection

    from segmentation.features import customer_features_write
    from tests.conftest import TEST_CURRENCY_RATES

    upgrade = importlib.import_module("segmentation.migrations.0016_value_inputs")
    kept = Run.objects.create(kind=VALUE_SCORING, as_of=AS_OF, status=Run.Status.SUCCEEDED)
    at_work = Run.objects.create(kind=VALUE_SCORING, as_of=AS_OF, status=Run.Status.RUNNING)
    segmentation = Run.objects.create(kind="segmentation", as_of=AS_OF, status=Run.Status.SUCCEEDED)
    for run in (kept, at_work, segmentation):
        customer_features_write(run_id=run.pk, as_of=AS_OF, rates=TEST_CURRENCY_RATES, lo=0, hi=10**9)
    fields = ("customer_id", "branch_id", "rm_id", "deposit_balance", "loans_outstanding", "card_payments",
              "fees_paid")
    before = list(CustomerFeatures.objects.filter(run=kept).order_by("customer_id").values_list(*fields))

    with connection.schema_editor() as schema_editor:
        upgrade.value_runs_inputs_move(apps, schema_editor)

    assert list(CustomerValueInputs.objects.filter(run=kept).order_by("customer_id").values_list(*fields)) == before
    assert len(before) == 3 and not CustomerFeatures.objects.filter(run__kind=VALUE_SCORING).exists()
    assert CustomerFeatures.objects.filter(run=segmentation).count() == 3
    at_work.refresh_from_db()
    assert at_work.status == Run.Status.FAILED and "upgrade" in at_work.error
    kept.refresh_from_db()
    assert kept.status == Run.Status.SUCCEEDED


def test_the_finish_reads_each_part_of_the_previous_runs_tiers_by_the_parts_key_range(small_bank, monkeypatch):
    from crm_bank import bulk
    from segmentation.services import _inputs_with_previous_tier
    from tests.query_plans import plan_of

    first = published(as_of=AS_OF)
    second = Run.objects.create(kind="test_value_inputs", as_of=AS_OF)
    CustomerValueInputs.objects.bulk_create(
        CustomerValueInputs(run=second, customer_id=v.customer_id, branch_id=v.branch_id, deposit_balance=0,
                            loans_outstanding=0, card_payments=0, fees_paid=0)
        for v in CustomerValue.objects.filter(run=first)
    )
    reads = []
    real = bulk.frame_from_query

    def recorded(sql, params=None):
        reads.append((sql, params))
        return real(sql, params)

    monkeypatch.setattr(bulk, "frame_from_query", recorded)

    _inputs_with_previous_tier(second.pk, first.pk)
    sql, params = reads[0]
    plan = plan_of(sql, params)

    # Each of the two connections reads half the customers: half of the previous run's rows too.
    previous = [line for line in plan.splitlines() if f"run_id = {first.pk}" in line]
    assert previous and all("customer_id >=" in line and "customer_id <=" in line for line in previous), plan
