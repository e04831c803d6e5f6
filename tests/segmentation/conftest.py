"""A small bank with hand-computable features and values, as of 30 June 2024.

- "x" (branch A, RM rm_a): current 1,000 on the date (1,999 after a later deposit) + deposit 5,000
  + running loan of 20,000 principal + a card; a closed deposit and an account it only may use
  (neither counts); six transactions, four of them in the 12 months: value = 6,000 × 1.5%
  + 20,000 × 2.5% + 2 card payments × 0.30 + 50 fees = 640.60.
- "w" (branch B): a current account of 100,000 and nothing else: value 1,500.
- "y" (branch A): no accounts; age only as a source reported it: value 0.
- "late": became a customer after the as-of date, so not in the run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Account, AccountHolder, Channel, Customer, Product, Transaction
from tests.customers.factories import CustomerFactory, ProductFactory, account_for

AS_OF = dt.date(2024, 6, 30)


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=timezone.get_default_timezone())


def txn(account: Account, day: dt.date, amount: str, direction: str, kind: str, channel: str, hour: int = 10) -> None:
    Transaction.objects.create(
        account=account, booked_at=at(day, hour), amount=Decimal(amount), direction=direction, kind=kind,
        channel=channel,
    )


@dataclass
class SmallBank:
    x: Customer
    w: Customer
    y: Customer
    late: Customer
    x_loan: Account
    x_current: Account


@pytest.fixture
def small_bank(branch_a, branch_b, rm_a) -> SmallBank:
    current = ProductFactory(code="CURRENT", category=Product.Category.CURRENT)
    deposit = ProductFactory(code="DEPOSIT", name="Deposit", category=Product.Category.DEPOSIT)
    term = ProductFactory(code="TERM", name="Term deposit", category=Product.Category.DEPOSIT)
    loan = ProductFactory(code="LOAN", name="Loan", category=Product.Category.LOAN)
    card = ProductFactory(code="CARD", name="Card", category=Product.Category.CARD)

    x = CustomerFactory(home_branch=branch_a, primary_rm=rm_a, birth_date=dt.date(1980, 7, 1),
                        customer_since=dt.date(2010, 1, 1))
    w = CustomerFactory(home_branch=branch_b, customer_since=dt.date(2020, 1, 1))
    y = CustomerFactory(home_branch=branch_a, attributes={"age": "35"})
    late = CustomerFactory(home_branch=branch_a, customer_since=dt.date(2025, 1, 1))

    # 1,999 today: 1,000 on the as-of date, before the 999 booked on 5 July.
    x_current = account_for(x, product=current, balance=Decimal("1999.00"))
    account_for(x, product=deposit, balance=Decimal("5000.00"))
    x_loan = account_for(x, product=loan, balance=Decimal("-15000.00"), principal=Decimal("20000.00"),
                         repayment_status=Account.Repayment.CURRENT)
    x_card = account_for(x, product=card, balance=Decimal("-300.00"))
    account_for(x, product=term, balance=Decimal("999.00"), closed_on=dt.date(2020, 1, 1),
                status=Account.Status.CLOSED)
    account_for(x, product=current, balance=Decimal("7777.00"), role=AccountHolder.Role.AUTHORISED)
    w_current = account_for(w, product=current, balance=Decimal("100000.00"))
    account_for(late, product=current, balance=Decimal("50000.00"))

    D, C = Transaction.Direction, Transaction.Kind
    txn(x_current, dt.date(2024, 6, 20), "500", D.CREDIT, C.TRANSFER_IN, Channel.WEB)
    txn(x_current, dt.date(2024, 5, 1), "200", D.DEBIT, C.CARD_PAYMENT, Channel.CARD)
    txn(x_current, dt.date(2024, 1, 10), "50", D.DEBIT, C.FEE, Channel.BRANCH)
    txn(x_current, dt.date(2023, 5, 1), "1000", D.CREDIT, C.CASH_DEPOSIT, Channel.BRANCH)  # before the 12 months
    txn(x_current, dt.date(2024, 7, 5), "999", D.CREDIT, C.CASH_DEPOSIT, Channel.BRANCH)  # after the as-of date
    txn(x_card, dt.date(2024, 3, 3), "80", D.DEBIT, C.CARD_PAYMENT, Channel.CARD)
    txn(w_current, dt.date(2024, 6, 30), "10", D.CREDIT, C.INTEREST, Channel.SYSTEM, hour=23)  # last minute of the day
    return SmallBank(x=x, w=w, y=y, late=late, x_loan=x_loan, x_current=x_current)
