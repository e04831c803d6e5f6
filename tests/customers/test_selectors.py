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
                    amount=Decimal(i), direction="credit", kind="cash_in", channel="counter")
        for i in range(90)
    ]
    Transaction.objects.bulk_create(rows)
    expected = list(Transaction.objects.filter(account__in=accounts).order_by("-booked_at", "-id"))
    for offset in (0, 20, 80):
        with django_assert_num_queries(1):
            window = customer_transactions_window(accounts=accounts, offset=offset, limit=21)
        assert [t.pk for t in window] == [t.pk for t in expected[offset: offset + 21]]
        assert all(t.account in accounts for t in window)


def test_transactions_window_with_one_or_no_account(customer_a):
    account = account_for(customer_a)
    assert customer_transactions_window(accounts=[], offset=0, limit=5) == []
    Transaction.objects.create(account=account, booked_at=timezone.now(), amount=1, direction="debit",
                               kind="fee", channel="system")
    assert len(customer_transactions_window(accounts=[account], offset=0, limit=5)) == 1


def test_field_changes_show_choice_labels(customer_a, rm_a):
    from customers.selectors import customer_field_changes
    from customers.services import customer_update

    customer_a._history_user = rm_a
    customer_a.save()  # the baseline history row a loader or a create would have written
    customer_update(customer=customer_a, actor=rm_a, lifecycle_stage="dormant")
    (change,) = customer_field_changes(customer=customer_a)
    assert (str(change.old), str(change.new), change.changed_by) == ("Customer", "Dormant", "rm_a")
