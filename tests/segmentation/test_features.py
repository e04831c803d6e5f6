"""The SQL feature step against values computed by hand (tests/segmentation/conftest.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from crm_bank.runs.models import Run
from customers.models import Account, AccountHolder, Channel, Product, Transaction
from segmentation.columns import PRODUCT_CATEGORIES
from segmentation.features import (
    PRODUCT_COUNT_COLUMNS,
    currencies_without_rate,
    customer_features_write,
    value_inputs_write,
    window_bounds,
)
from segmentation.models import CustomerFeatures, CustomerValueInputs
from segmentation.scoring import VALUE_INPUTS
from tests.conftest import TEST_CURRENCY_RATES
from tests.customers.factories import CustomerFactory, account_for
from tests.segmentation.conftest import AS_OF, at, txn
from tests.segmentation.segment_bank import segment_bank_fixture  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def features(small_bank) -> dict[int, CustomerFeatures]:
    run = Run.objects.create(kind="test_features", as_of=AS_OF)
    lo = min(c.pk for c in (small_bank.x, small_bank.w, small_bank.y, small_bank.late))
    written = customer_features_write(run_id=run.pk, as_of=AS_OF, rates=TEST_CURRENCY_RATES, lo=lo, hi=lo + 1000)
    rows = {f.customer_id: f for f in CustomerFeatures.objects.filter(run=run)}
    assert written == len(rows) == 3
    return rows


def test_features_of_a_customer_with_holdings_match_hand_computed_values(small_bank, features):
    x = features[small_bank.x.pk]

    assert x.recency_days == 10  # 20 June → 30 June; the July transaction is after the as-of date
    assert x.frequency == 4  # the May 2023 transaction is older than 12 months
    assert (x.money_in, x.money_out) == (Decimal("500.00"), Decimal("330.00"))
    # On the date: the current account's 1,999 less the 999 booked on 5 July, and the deposit; not the
    # card, the closed deposit or the authorised account.
    assert x.deposit_balance == Decimal("6000.00")
    # The current account over the 12 months (+500 on 20 June, −200 on 1 May, −50 on 10 January):
    # before each booking the balance was the later balance less it.
    start, end = window_bounds(AS_OF)
    window = (end - start).total_seconds()
    current_average = 1000 - sum(amount * (at(day) - start).total_seconds() / window for day, amount in (
        (dt.date(2024, 6, 20), 500), (dt.date(2024, 5, 1), -200), (dt.date(2024, 1, 10), -50)))
    assert float(x.average_balance) == pytest.approx(5000 + current_average, abs=0.01)
    assert 5000 + 1000 - 500 < x.average_balance < 5000 + 1000 - 500 + 250  # 500 came in the last ten days
    assert x.loans_outstanding == Decimal("20000.00")
    assert (x.card_payments, x.fees_paid) == (2, Decimal("50.00"))
    assert x.product_count == 4 and x.product_mix == {"current": 1, "deposit": 1, "loan": 1, "card": 1}
    assert x.tenure_days == (AS_OF - dt.date(2010, 1, 1)).days
    assert x.age == 43  # born 1 July 1980: 44 only the day after the as-of date
    assert x.digital_share == pytest.approx(3 / 4)  # web + two card payments of four
    assert (x.branch_id, x.rm_id) == (small_bank.x.home_branch_id, small_bank.x.primary_rm_id)


def test_features_of_a_customer_without_accounts_are_empty_not_missing(small_bank, features):
    y = features[small_bank.y.pk]

    assert y.recency_days is None and y.frequency == 0 and y.digital_share is None
    assert y.deposit_balance == y.loans_outstanding == y.average_balance == Decimal("0")
    assert (y.contacts, y.complaints, y.assisted_share) == (0, 0, None)
    assert y.product_count == 0 and y.product_mix == {}
    assert y.tenure_days is None and y.age == 35  # the age the source reported


def test_features_count_the_last_minute_of_the_as_of_day_and_leave_out_later_customers(small_bank, features):
    w = features[small_bank.w.pk]

    assert w.recency_days == 0 and w.frequency == 1 and w.money_in == Decimal("10.00")
    assert small_bank.late.pk not in features


def test_features_write_twice_replaces_the_range(small_bank):
    run = Run.objects.create(kind="test_features", as_of=AS_OF)
    lo, hi = small_bank.x.pk, small_bank.x.pk

    customer_features_write(run_id=run.pk, as_of=AS_OF, rates=TEST_CURRENCY_RATES, lo=lo, hi=hi)
    assert customer_features_write(run_id=run.pk, as_of=AS_OF, rates=TEST_CURRENCY_RATES, lo=lo, hi=hi) == 1

    assert CustomerFeatures.objects.filter(run=run).count() == 1


def test_features_recency_of_an_account_quiet_for_the_twelve_months_is_its_last_older_booking(small_bank):
    # Per account the step reads only the 12 months; a quiet account's recency comes from an index probe.
    quiet = CustomerFactory(home_branch=small_bank.x.home_branch)
    AccountHolder.objects.create(account=small_bank.x_loan, customer=quiet, role=AccountHolder.Role.OWNER)
    txn(small_bank.x_loan, dt.date(2022, 3, 1), "70", Transaction.Direction.DEBIT, Transaction.Kind.LOAN_REPAYMENT,
        Channel.BRANCH)
    txn(small_bank.x_loan, dt.date(2023, 4, 30), "60", Transaction.Direction.DEBIT, Transaction.Kind.LOAN_REPAYMENT,
        Channel.BRANCH)
    run = Run.objects.create(kind="test_features", as_of=AS_OF)

    customer_features_write(run_id=run.pk, as_of=AS_OF, rates=TEST_CURRENCY_RATES, lo=small_bank.x.pk, hi=quiet.pk)
    rows = {f.customer_id: f for f in CustomerFeatures.objects.filter(run=run)}

    only_quiet = rows[quiet.pk]
    assert only_quiet.recency_days == (AS_OF - dt.date(2023, 4, 30)).days
    assert only_quiet.frequency == 0 and only_quiet.money_out == Decimal("0") and only_quiet.digital_share is None
    # x's other accounts were busy in the 12 months: the quiet loan neither adds nor moves its recency.
    x = rows[small_bank.x.pk]
    assert (x.recency_days, x.frequency, x.money_out) == (10, 4, Decimal("330.00"))


def test_features_of_a_joint_account_count_for_each_owner_in_every_chunk(small_bank):
    partner = CustomerFactory(home_branch=small_bank.x.home_branch)
    AccountHolder.objects.create(account=small_bank.x_current, customer=partner, role=AccountHolder.Role.OWNER)
    run = Run.objects.create(kind="test_features", as_of=AS_OF)

    # Two chunks: the partner's range holds only the shared account.
    customer_features_write(run_id=run.pk, as_of=AS_OF, rates=TEST_CURRENCY_RATES, lo=small_bank.x.pk,
                            hi=small_bank.x.pk)
    customer_features_write(run_id=run.pk, as_of=AS_OF, rates=TEST_CURRENCY_RATES, lo=partner.pk, hi=partner.pk)
    rows = {f.customer_id: f for f in CustomerFeatures.objects.filter(run=run)}

    shared = rows[partner.pk]
    assert (shared.recency_days, shared.frequency) == (10, 3)  # the current account's three in the 12 months
    assert (shared.money_in, shared.money_out, shared.fees_paid) == (Decimal("500.00"), Decimal("250.00"),
                                                                     Decimal("50.00"))
    assert rows[small_bank.x.pk].frequency == 4


def test_features_of_a_range_without_owned_accounts_are_empty_rows(small_bank):
    run = Run.objects.create(kind="test_features", as_of=AS_OF)

    written = customer_features_write(run_id=run.pk, as_of=AS_OF, rates=TEST_CURRENCY_RATES, lo=small_bank.y.pk,
                                      hi=small_bank.y.pk)

    assert written == 1

    assert CustomerFeatures.objects.get(run=run).frequency == 0


def test_window_bounds_are_the_twelve_months_ending_with_the_day():
    assert window_bounds(AS_OF) == (at(dt.date(2023, 7, 1), 0), at(dt.date(2024, 7, 1), 0))
    assert window_bounds(dt.date(2024, 2, 28))[0] == at(dt.date(2023, 3, 1), 0)  # no 29 Feb 2023: 365 days


def test_money_is_converted_into_the_reporting_currency_per_account(small_bank):
    euros = account_for(small_bank.w, product=small_bank.x_current.product, balance=Decimal("100.00"), currency="EUR")
    txn(euros, dt.date(2024, 6, 1), "4", Transaction.Direction.CREDIT, Transaction.Kind.TRANSFER_IN, Channel.WEB)
    run = Run.objects.create(kind="test_features", as_of=AS_OF)

    customer_features_write(run_id=run.pk, as_of=AS_OF, rates=TEST_CURRENCY_RATES, lo=small_bank.w.pk,
                            hi=small_bank.w.pk)

    w = CustomerFeatures.objects.get(run=run)
    assert w.deposit_balance == Decimal("100000.00") + 100 * 25  # crowns as they are, euros at 25
    assert w.money_in == Decimal("10.00") + 4 * 25


def test_tenure_counts_only_accounts_opened_by_the_date_and_a_customer_not_yet_one_is_left_out(small_bank):
    product = small_bank.x_current.product
    newcomer = CustomerFactory(home_branch=small_bank.y.home_branch, customer_since=None)
    account_for(newcomer, product=product, opened_on=dt.date(2025, 3, 1))  # after the as-of date
    old_hand = CustomerFactory(home_branch=small_bank.y.home_branch, customer_since=None)
    account_for(old_hand, product=product, opened_on=dt.date(2020, 7, 1))
    account_for(old_hand, product=product, opened_on=dt.date(2025, 3, 1))
    run = Run.objects.create(kind="test_features", as_of=AS_OF)

    customer_features_write(run_id=run.pk, as_of=AS_OF, rates=TEST_CURRENCY_RATES, lo=newcomer.pk, hi=old_hand.pk)

    rows = {f.customer_id: f for f in CustomerFeatures.objects.filter(run=run)}
    assert newcomer.pk not in rows
    assert rows[old_hand.pk].tenure_days == (AS_OF - dt.date(2020, 7, 1)).days


def test_an_account_with_an_unknown_opening_date_counts_as_opened_before_the_date(small_bank):
    product = small_bank.x_current.product
    customer = CustomerFactory(home_branch=small_bank.y.home_branch, customer_since=None)
    account_for(customer, product=product, opened_on=None)
    account_for(customer, product=product, opened_on=dt.date(2025, 3, 1))
    run = Run.objects.create(kind="test_features", as_of=AS_OF)

    written = customer_features_write(run_id=run.pk, as_of=AS_OF, rates=TEST_CURRENCY_RATES, lo=customer.pk,
                                      hi=customer.pk)

    assert written == 1 and CustomerFeatures.objects.get(run=run).tenure_days is None


def test_responded_before_comes_from_the_contacts_made_by_the_date(small_bank):
    from campaigns.models import Campaign, CampaignContact

    campaign = Campaign.objects.create(code="TD", name="Term deposit", channel="call_centre",
                                       starts_on=dt.date(2024, 1, 1))
    CampaignContact.objects.create(campaign=campaign, customer=small_bank.x, outcome="accepted",
                                   contacted_on=dt.date(2024, 2, 1))
    CampaignContact.objects.create(campaign=campaign, customer=small_bank.w, outcome="declined",
                                   contacted_on=dt.date(2024, 2, 1))
    CampaignContact.objects.create(campaign=campaign, customer=small_bank.y, outcome="accepted",
                                   contacted_on=dt.date(2024, 8, 1))  # after the as-of date
    run = Run.objects.create(kind="test_features", as_of=AS_OF)
    lo = min(c.pk for c in (small_bank.x, small_bank.w, small_bank.y))

    customer_features_write(run_id=run.pk, as_of=AS_OF, rates=TEST_CURRENCY_RATES, lo=lo, hi=lo + 1000)

    rows = {f.customer_id: f.responded_before for f in CustomerFeatures.objects.filter(run=run)}
    assert (rows[small_bank.x.pk], rows[small_bank.w.pk], rows[small_bank.y.pk]) == (1.0, 0.0, None)


def test_a_quiet_customers_last_booking_is_one_index_probe_per_account(small_bank):
    """Not `account_id = ANY(…)` over the booking-date index: the planner walked that index backwards and,
    for an account that never had a transaction, read all of it (minutes a chunk on a generated bank)."""
    from tests.query_plans import captured_sql, plan_of

    run = Run.objects.create(kind="test_features", as_of=AS_OF)
    sql = captured_sql(lambda: customer_features_write(run_id=run.pk, as_of=AS_OF, rates=TEST_CURRENCY_RATES,
                                                       lo=small_bank.x.pk, hi=small_bank.x.pk + 1000),
                       "INSERT INTO")
    plan = plan_of(sql, allow_sorts=True)
    assert "Function Scan on unnest quiet" in plan, plan  # the quiet accounts, one by one
    quiet_lookup = plan[plan.index("Function Scan on unnest quiet"):]  # their subplan, to the end
    assert "txn_booked_idx" not in quiet_lookup
    assert "Index Cond: ((account_id = $1) AND (booked_at IS NOT NULL)" in quiet_lookup, plan


def test_average_balance_weighs_each_balance_by_how_long_it_was_held(small_bank):
    saver = CustomerFactory(home_branch=small_bank.w.home_branch, customer_since=dt.date(2020, 1, 1))
    account = account_for(saver, product=small_bank.x_current.product, balance=Decimal("3500.00"))
    D, K = Transaction.Direction, Transaction.Kind
    txn(account, dt.date(2023, 7, 1), "1000", D.CREDIT, K.CASH_DEPOSIT, Channel.BRANCH, hour=0)  # the window's start
    txn(account, dt.date(2024, 1, 1), "2000", D.CREDIT, K.TRANSFER_IN, Channel.WEB, hour=0)
    txn(account, dt.date(2024, 7, 2), "500", D.CREDIT, K.TRANSFER_IN, Channel.WEB)  # after the date
    run = Run.objects.create(kind="test_features", as_of=AS_OF)

    customer_features_write(run_id=run.pk, as_of=AS_OF, rates=TEST_CURRENCY_RATES, lo=saver.pk, hi=saver.pk)

    row = CustomerFeatures.objects.get(run=run)
    assert row.deposit_balance == Decimal("3000.00")  # 3,500 today, less the 500 of 2 July
    # 1,000 for the 184 days to 1 January, 3,000 for the 182 days after (2024 is a leap year); the
    # hour the clocks changed in between is within the tolerance.
    assert float(row.average_balance) == pytest.approx((1000 * 184 + 3000 * 182) / 366, abs=0.5)
    assert row.frequency == 2 and row.money_in == Decimal("3000.00")  # the July booking is not in the 12 months


def test_contacts_come_from_the_interaction_timeline_of_the_twelve_months(small_bank):
    from channels.services.interactions import NewInteraction, interactions_store

    def contact(day, channel, kind, direction):
        return NewInteraction(customer_id=small_bank.x.pk, channel=channel, kind=kind, direction=direction,
                              occurred_at=at(day), summary="contact")

    interactions_store(items=[
        contact(dt.date(2024, 6, 1), "branch", "enquiry", "inbound"),
        contact(dt.date(2024, 5, 1), "web", "enquiry", "inbound"),
        contact(dt.date(2024, 4, 1), "call_centre", "complaint", "inbound"),
        contact(dt.date(2024, 3, 1), "call_centre", "campaign_contact", "outbound"),  # we called: not assisted
        contact(dt.date(2023, 6, 1), "branch", "complaint", "inbound"),  # before the 12 months
        contact(dt.date(2024, 7, 2), "branch", "complaint", "inbound"),  # after the date
    ])
    run = Run.objects.create(kind="test_features", as_of=AS_OF)

    customer_features_write(run_id=run.pk, as_of=AS_OF, rates=TEST_CURRENCY_RATES, lo=small_bank.x.pk,
                            hi=small_bank.x.pk)

    row = CustomerFeatures.objects.get(run=run)
    assert (row.contacts, row.complaints) == (4, 1)
    assert row.assisted_share == pytest.approx(2 / 3)  # branch and call centre of three inbound contacts


def test_without_an_interaction_timeline_the_contacts_are_empty(small_bank):
    from customers.interaction_history import interaction_history_register, interaction_history_unregister

    source = interaction_history_unregister()
    try:
        run = Run.objects.create(kind="test_features", as_of=AS_OF)
        written = customer_features_write(run_id=run.pk, as_of=AS_OF, rates=TEST_CURRENCY_RATES, lo=small_bank.x.pk,
                                          hi=small_bank.x.pk)
    finally:
        interaction_history_register(source)

    row = CustomerFeatures.objects.get(run=run)
    assert written == 1 and (row.contacts, row.complaints, row.assisted_share) == (0, 0, None)


@pytest.mark.real_data
@pytest.mark.skipif(
    not (Path(settings.CRM_DATASETS) / "berka_pkdd99" / "client.asc").exists()
    or not (Path(settings.CRM_DATASETS) / "bank_marketing_uci" / "bank-full.csv.gz").exists(),
    reason="the public data sets are not at CRM_DATASETS (README: where to get them)",
)
def test_average_balance_agrees_with_the_banks_own_running_balances_on_real_accounts():
    """PKDD'99 books each transaction's running balance; averaged over the 12 months by time, it must
    give what the feature step rebuilds from the latest balance and the amounts alone."""
    from django.core.management import call_command
    from django.db.models import Max

    call_command("load_demo", "--data", settings.CRM_DATASETS, "--sample", "150")
    as_of = timezone.localdate(Transaction.objects.aggregate(last=Max("booked_at"))["last"])
    run = Run.objects.create(kind="test_features", as_of=as_of)
    customer_features_write(run_id=run.pk, as_of=as_of, rates=TEST_CURRENCY_RATES, lo=0, hi=2**62)
    start, end = window_bounds(as_of)

    def time_weighted(account: Account) -> float:
        """The bank's end-of-day balances averaged over the window by time. The file dates its bookings
        without a time, so a day's bookings have no order: the day closes on the balance the bank
        printed that is nearest to the opening balance plus the day's amounts."""
        days: dict[dt.datetime, list[tuple[float, float]]] = {}
        for booked_at, amount, direction, balance in account.transactions.values_list(
                "booked_at", "amount", "direction", "balance_after"):
            days.setdefault(booked_at, []).append((float(amount if direction == "credit" else -amount), float(balance)))
        held, total, since = 0.0, 0.0, start
        for day in sorted(days):
            if day >= start and since < end:
                total += held * (min(day, end) - since).total_seconds()
                since = day
            expected = held + sum(amount for amount, _ in days[day])
            held = min((balance for _, balance in days[day]), key=lambda balance: abs(balance - expected))
        return (total + held * (end - since).total_seconds()) / (end - start).total_seconds()

    compared = 0
    for row in CustomerFeatures.objects.filter(run=run, frequency__gt=0):
        owned = list(Account.objects.filter(holdings__customer_id=row.customer_id, holdings__role="owner",
                                            product__category="current", currency="CZK"))
        others = Account.objects.filter(holdings__customer_id=row.customer_id, holdings__role="owner").count()
        if len(owned) != 1 or others != 1 or owned[0].transactions.filter(balance_after=None).exists():
            continue  # one current account with the bank's balances, nothing else to add up
        assert float(row.average_balance) == pytest.approx(time_weighted(owned[0]), abs=1.0)  # within a crown
        compared += 1
    assert compared >= 20


@pytest.mark.parametrize("bank", ["small_bank", "segment_bank"])
@pytest.mark.parametrize("as_of", [AS_OF, dt.date(2024, 3, 31)])
def test_the_value_step_writes_the_feature_steps_value_inputs_for_the_same_customers(request, bank, as_of):
    """The value run's narrower step (value_inputs_sql) is the feature step cut down, never a second
    definition: same customers (late ones left out), same branch and RM, same four inputs."""
    request.getfixturevalue(bank)
    run = Run.objects.create(kind="test_features", as_of=as_of)
    fields = ("customer_id", "branch_id", "rm_id", *VALUE_INPUTS)
    customer_features_write(run_id=run.pk, as_of=as_of, rates=TEST_CURRENCY_RATES, lo=0, hi=10**9)
    value_inputs_write(run_id=run.pk, as_of=as_of, rates=TEST_CURRENCY_RATES, lo=0, hi=10**9)

    full = list(CustomerFeatures.objects.filter(run=run).order_by("customer_id").values_list(*fields))
    narrow = list(CustomerValueInputs.objects.filter(run=run).order_by("customer_id").values_list(*fields))
    assert narrow == full
    assert len(full) >= 3
    assert all(any(row[column] for row in full) for column in (3, 4, 5))  # deposits, loans, card payments


def test_the_value_step_repeated_on_a_chunk_gives_the_same_rows(small_bank):
    run = Run.objects.create(kind="test_features", as_of=AS_OF)
    first = value_inputs_write(run_id=run.pk, as_of=AS_OF, rates=TEST_CURRENCY_RATES, lo=0, hi=10**9)
    rows = list(CustomerValueInputs.objects.filter(run=run).order_by("customer_id").values_list())

    assert value_inputs_write(run_id=run.pk, as_of=AS_OF, rates=TEST_CURRENCY_RATES, lo=0, hi=10**9) == first == 3
    assert list(CustomerValueInputs.objects.filter(run=run).order_by("customer_id").values_list()) == rows
    x = CustomerValueInputs.objects.get(run=run, customer=small_bank.x)
    assert (x.deposit_balance, x.loans_outstanding, x.card_payments, x.fees_paid) == (6000, 20000, 2, 50)


def test_every_product_category_has_its_count_column():
    # An account of a category without a column would be counted nowhere.
    assert set(PRODUCT_CATEGORIES) == set(Product.Category.values)
    columns = {field.column for field in CustomerFeatures._meta.concrete_fields}
    assert set(PRODUCT_COUNT_COLUMNS) == {f"n_{category}" for category in PRODUCT_CATEGORIES} <= columns


def test_the_migration_to_count_columns_keeps_the_kept_runs_product_mix():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    customer = CustomerFactory()
    run = Run.objects.create(kind="test_features", as_of=AS_OF)
    before, after = ("segmentation", "0017_membership_without_customer_index"), ("segmentation",
                                                                                 "0018_product_counts_as_columns")
    MigrationExecutor(connection).migrate([before])
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                """INSERT INTO segmentation_customerfeatures (run_id, customer_id, branch_id, frequency, money_in,
                       money_out, deposit_balance, average_balance, loans_outstanding, card_payments, fees_paid,
                       product_count, product_mix, contacts, complaints)
                   VALUES (%s, %s, %s, 0, 0, 0, 0, 0, 0, 0, 0, 3, '{"current": 1, "card": 2}', 0, 0)""",
                [run.pk, customer.pk, customer.home_branch_id],
            )
    finally:
        MigrationExecutor(connection).migrate([after])
    row = CustomerFeatures.objects.get(run=run, customer=customer)
    assert (row.n_current, row.n_card, row.n_loan) == (1, 2, 0)
    assert row.product_mix == {"current": 1, "card": 2}


def test_the_currencies_without_a_rate_are_each_currency_held_that_the_rates_miss_once(db):
    assert currencies_without_rate({"CZK": 1.0}) == []  # no account yet
    customer = CustomerFactory()
    for currency in ("ZAR", "CZK", "AUD", "EUR", "USD", "AUD", "CZK", "ZAR"):
        account_for(customer, currency=currency)

    assert currencies_without_rate({"CZK": 1.0, "EUR": 25.0}) == ["AUD", "USD", "ZAR"]
    assert currencies_without_rate({"AUD": 16.0, "CZK": 1.0, "EUR": 25.0, "USD": 23.0, "ZAR": 1.3}) == []
