"""The model-training run's SQL reads (segmentation/prediction_data.py) against hand-computed rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from customers.models import Product
from segmentation.prediction_data import CustomerSelection, response_scoring_rows
from tests.conftest import TEST_CURRENCY_RATES
from tests.customers.factories import CustomerFactory, ProductFactory, account_for

pytestmark = pytest.mark.django_db


def test_scoring_rows_give_current_balances_in_the_reporting_currency(branch_a):
    current = ProductFactory(code="CUR", category=Product.Category.CURRENT)
    customer = CustomerFactory(home_branch=branch_a)
    account_for(customer, product=current, balance=Decimal("100.00"), currency="EUR")
    account_for(customer, product=current, balance=Decimal("40.00"), currency="CZK")

    rows = response_scoring_rows(as_of=dt.date(2024, 6, 30), customers=CustomerSelection(ids=(customer.pk,)),
                                 rates=TEST_CURRENCY_RATES)

    assert rows["current_balance"].tolist() == [100 * 25 + 40]  # euros at 25, crowns as they are
    assert rows["current_accounts"].tolist() == [2]
