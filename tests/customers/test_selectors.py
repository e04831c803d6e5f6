from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Transaction
from customers.selectors import customer_transactions_window
from tests.customers.factories import account_for

pytestmark = pytest.mark.django_db


def test_transactions_window_merges_accounts_in_date_order(customer_a, django_assert_num_queries):
    accounts = [account_for(customer_a) for _ in range(3)]
    start = timezone.now()
    rows = [
        Transaction(account=accounts[i % 3], booked_at=start - dt.timedelta(hours=7 * i + (i % 5)),
                    amount=Decimal(i), direction="credit", kind="cash_in", channel="branch")
        for i in range(90)
    ]
    Transaction.objects.bulk_create(rows)
    expected = list(Transaction.objects.filter(account__in=accounts).order_by("-booked_at", "-id"))
    for offset in (0, 20, 80):
        with django_assert_num_queries(1):
            window = customer_transactions_window(account_ids=[a.pk for a in accounts], offset=offset, limit=21)
        assert [(t.account_id, t.booked_at, t.amount) for t in window] == [
            (t.account_id, t.booked_at, t.amount) for t in expected[offset: offset + 21]]


def test_transactions_window_with_one_or_no_account(customer_a):
    account = account_for(customer_a)
    assert customer_transactions_window(account_ids=[], offset=0, limit=5) == []
    Transaction.objects.create(account=account, booked_at=timezone.now(), amount=1, direction="debit",
                               kind="fee", channel="system")
    assert len(customer_transactions_window(account_ids=[account.pk], offset=0, limit=5)) == 1


def test_field_changes_show_choice_labels(customer_a, rm_a):
    from customers.selectors import customer_field_changes
    from customers.services import customer_update

    customer_a._history_user = rm_a
    customer_a.save()  # the baseline history row a loader or a create would have written
    customer_update(customer=customer_a, actor=rm_a, lifecycle_stage="dormant")
    (change,) = customer_field_changes(customer_id=customer_a.pk)
    assert (str(change.old), str(change.new), change.changed_by) == ("Customer", "Dormant", "rm_a")


def test_branch_summary_counts_stages_and_overdue_kyc(branch_a, rm_a, django_assert_num_queries):
    from customers.selectors import branch_summary
    from tests.customers.factories import CustomerFactory

    today = timezone.localdate()
    CustomerFactory(home_branch=branch_a, primary_rm=rm_a, kyc_review_due=today - dt.timedelta(days=1))
    CustomerFactory(home_branch=branch_a, lifecycle_stage="dormant", kyc_review_due=today - dt.timedelta(days=9))
    CustomerFactory(home_branch=branch_a, kyc_review_due=today + dt.timedelta(days=9))
    with django_assert_num_queries(3):
        summary = branch_summary(branch_id=branch_a.pk, today=today)
    assert summary.customers_by_stage == {"customer": 2, "dormant": 1} and summary.customers_total == 3
    assert summary.kyc_overdue == 2
    assert [(row["customers"], row["kyc_overdue"]) for row in summary.rm_books] == [(1, 1)]
