"""'The most valuable customers' for other apps: largest balances before a value run, tier A after."""

from __future__ import annotations

from decimal import Decimal

import pytest

from customers.models import Customer
from customers.value_ranking import top_customer_basis, top_customer_condition
from segmentation.models import CustomerValue
from segmentation.services import value_scoring_start
from tests.customers.factories import CustomerFactory, account_for

pytestmark = pytest.mark.django_db


def test_before_a_value_run_large_deposit_balances_are_the_top(branch_a, settings):
    settings.CRM_TOP_CUSTOMER_BALANCE = 100_000
    rich = CustomerFactory(home_branch=branch_a)
    account_for(rich, balance=Decimal("250000.00"))
    modest = CustomerFactory(home_branch=branch_a)
    account_for(modest, balance=Decimal("9000.00"))
    assert top_customer_basis() == "balance"
    assert list(Customer.objects.filter(top_customer_condition()).values_list("pk", flat=True)) == [rich.pk]


def test_after_a_value_run_tier_a_is_the_top(small_bank):
    run = value_scoring_start(sync=True)
    assert run.error == ""
    assert top_customer_basis() == "value_tier"
    top = set(Customer.objects.filter(top_customer_condition()).values_list("pk", flat=True))
    assert top == set(CustomerValue.objects.filter(run=run, tier="A").values_list("customer_id", flat=True))
    assert top
