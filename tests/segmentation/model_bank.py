"""A small bank for the model-training run; its data end on 30 March 1994.

- 240 call-centre customers, each contacted once in a term-deposit campaign by phone between
  1 February 1993 and 15 March 1994 (a few a day, in date order), with the profile the response model
  reads: age, occupation, marital status, education, the default flag, a current account's balance,
  housing and personal loans. They accept when their previous campaign was a success or when older
  and better off (about 30 % accept): a signal a model can learn.
- 60 transacting customers, each owning a current account with transactions from 1 July 1993 to
  30 March 1994 (test_churn.synthetic_transactions): a quarter slow down in December and further
  after 1 January 1994, the churn label's cutoff. They have no marital status: no response score.
- "young": a transacting customer whose account's first transaction is in February 1994, too new
  for the churn model to judge.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pytest
from django.utils import timezone

from campaigns.models import Campaign, CampaignContact
from customers.models import Account, AccountHolder, Channel, Customer, Product, Transaction
from tests.customers.factories import AccountFactory, CustomerFactory, ProductFactory, account_for
from tests.segmentation.test_churn import synthetic_transactions

AS_OF = dt.date(1994, 3, 30)
CALLED = 240
TRANSACTING = 60
FIRST_CONTACT = dt.date(1993, 2, 1)


@dataclass
class ModelBank:
    called: list[Customer] = field(default_factory=list)
    transacting: list[Customer] = field(default_factory=list)
    young: Customer | None = None
    campaign: Campaign | None = None

    @property
    def everyone(self) -> list[Customer]:
        return [*self.called, *self.transacting, self.young]


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(10), tzinfo=timezone.get_default_timezone())


def add_called_customers(bank: ModelBank, branch, *, count: int = CALLED, seed: int = 3) -> None:
    """The campaign, its customers, their holdings and one contact each (see the module docstring)."""
    rng = np.random.default_rng(seed)
    current = ProductFactory(code="PT-CURRENT", category=Product.Category.CURRENT, currency="EUR")
    mortgage = ProductFactory(code="PT-MORTGAGE", name="Housing loan", category=Product.Category.MORTGAGE)
    loan = ProductFactory(code="PT-PERSONAL", name="Personal loan", category=Product.Category.LOAN)
    term = ProductFactory(code="PT-TERM", name="Term deposit", category=Product.Category.DEPOSIT)
    bank.campaign = Campaign.objects.create(code="TD-TEST", name="Term deposits", product=term,
                                            channel=Channel.CALL_CENTRE, starts_on=FIRST_CONTACT)
    days = np.sort(rng.integers(0, (dt.date(1994, 3, 15) - FIRST_CONTACT).days + 1, count))
    previous = rng.choice(["", "failure", "success"], count, p=[0.7, 0.2, 0.1])
    age = rng.integers(20, 80, count)
    balance = rng.normal(1500, 2000, count).round()
    signal = 2.0 * (previous == "success") + 0.04 * (age - 45) + balance / 3000 + rng.normal(0, 1, count)
    accepted = signal > np.quantile(signal, 0.7)
    # Built first and written in a few bulk inserts (the fixture of some forty tests: one INSERT per
    # row cost 1.5 s a test); the random draws come in the same order as one row at a time.
    contacts, holdings = [], []
    for i in range(count):
        customer = CustomerFactory.build(
            home_branch=branch, occupation=str(rng.choice(["admin.", "technician", "retired", "student"])),
            marital_status=str(rng.choice(["married", "single"])), education=str(rng.choice(["secondary", "tertiary"])),
            attributes={"age": int(age[i]), "credit_in_default": False},
        )
        bank.called.append(customer)
        held = [(current, Decimal(int(balance[i])))]
        held += [(mortgage, None)] if rng.random() < 0.5 else []
        held += [(loan, None)] if rng.random() < 0.2 else []
        for product, amount in held:
            holdings.append((customer, Account(number=f"TM{i:05d}-{product.code}", product=product, branch=branch,
                                               currency="EUR", balance=amount)))
        contacts.append(CampaignContact(
            campaign=bank.campaign, customer=customer, contacted_on=FIRST_CONTACT + dt.timedelta(days=int(days[i])),
            channel=Channel.CALL_CENTRE, outcome="accepted" if accepted[i] else "declined",
            attempts=int(rng.integers(1, 4)), previous_contacts=0 if previous[i] == "" else 1,
            days_since_previous=None if previous[i] == "" else int(rng.integers(30, 300)),
            previous_outcome=str(previous[i]), last_call_seconds=900 if accepted[i] else 5,
        ))
    Customer.objects.bulk_create(bank.called)
    Account.objects.bulk_create([account for _customer, account in holdings])
    AccountHolder.objects.bulk_create([AccountHolder(account=account, customer=customer, role=AccountHolder.Role.OWNER)
                                       for customer, account in holdings])
    CampaignContact.objects.bulk_create(contacts)


def add_transacting_customers(bank: ModelBank, branch, *, count: int = TRANSACTING) -> None:
    """Customers whose only account carries test_churn's synthetic transactions; and "young"."""
    current = ProductFactory(code="CZ-CURRENT", category=Product.Category.CURRENT)
    frame = synthetic_transactions(accounts=count, seed=5)
    bank.transacting = Customer.objects.bulk_create([
        CustomerFactory.build(home_branch=branch, birth_date=dt.date(1950 + number % 40, 5, 1),
                              customer_since=dt.date(1993, 7, 1))
        for number in range(1, count + 1)
    ])
    # synthetic_transactions numbers its accounts from 1: the account of the customer at index n - 1.
    accounts = Account.objects.bulk_create([
        AccountFactory.build(branch=branch, product=current, balance=Decimal("20000.00"), opened_on=dt.date(1993, 7, 1))
        for _customer in bank.transacting
    ])
    AccountHolder.objects.bulk_create([
        AccountHolder(account=account, customer=customer, role=AccountHolder.Role.OWNER)
        for customer, account in zip(bank.transacting, accounts, strict=True)
    ])
    rows = [
        Transaction(account=accounts[row.account_id - 1], booked_at=_at(row.booked_on.date()),
                    amount=Decimal(f"{row.amount:.2f}"), direction=row.direction, kind=row.kind,
                    channel=Channel.SYSTEM if row.kind == "interest" else Channel.BRANCH,
                    balance_after=Decimal(f"{row.balance_after:.2f}"))
        for row in frame.itertuples()
    ]
    bank.young = CustomerFactory(home_branch=branch, birth_date=dt.date(1970, 1, 1), customer_since=dt.date(1994, 2, 1))
    young_account = account_for(bank.young, product=current, balance=Decimal("900.00"), opened_on=dt.date(1994, 2, 1))
    rows += [Transaction(account=young_account, booked_at=_at(dt.date(1994, 2, 1) + dt.timedelta(days=d)),
                         amount=Decimal("50.00"), direction="debit", kind="cash_out", channel=Channel.BRANCH,
                         balance_after=Decimal("900.00")) for d in range(0, 56, 2)]
    Transaction.objects.bulk_create(rows, batch_size=5000)


@pytest.fixture(name="model_bank")
def model_bank_fixture(branch_a) -> ModelBank:
    bank = ModelBank()
    add_called_customers(bank, branch_a)
    add_transacting_customers(bank, branch_a)
    return bank
