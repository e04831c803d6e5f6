from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from customers.models import Account, AccountHolder, Channel, Customer, Product, Transaction
from customers.naming import customer_name_keys
from tests.org.factories import BranchFactory


class CustomerFactory(factory.django.DjangoModelFactory):
    """A golden record; name keys filled as the services and loaders fill them."""

    class Meta:
        model = Customer
        skip_postgeneration_save = True

    cif = factory.Sequence(lambda n: f"F{n:09d}")
    kind = Customer.Kind.INDIVIDUAL
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    home_branch = factory.SubFactory(BranchFactory)
    lifecycle_stage = Customer.Lifecycle.CUSTOMER
    name_key = factory.LazyAttribute(lambda o: customer_name_keys(
        kind=o.kind, first_name=o.first_name, last_name=o.last_name, legal_name="")[0])
    name_key_reversed = factory.LazyAttribute(lambda o: customer_name_keys(
        kind=o.kind, first_name=o.first_name, last_name=o.last_name, legal_name="")[1])


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("code",)

    code = "CURRENT"
    name = "Current account"
    category = Product.Category.CURRENT
    currency = "CZK"


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    number = factory.Sequence(lambda n: f"9{n:011d}")
    product = factory.SubFactory(ProductFactory)
    branch = factory.SubFactory(BranchFactory)
    opened_on = dt.date(2015, 3, 1)
    currency = "CZK"
    balance = Decimal("12345.67")


def account_for(customer: Customer, *, role: str = AccountHolder.Role.OWNER, **fields) -> Account:
    account = AccountFactory(branch=customer.home_branch, **fields)
    AccountHolder.objects.create(account=account, customer=customer, role=role)
    return account


def transactions_for(account: Account, count: int) -> None:
    """`count` transactions on `account`, one a day going back, written in one bulk insert."""
    start = timezone.now()
    Transaction.objects.bulk_create(
        [
            Transaction(
                account=account, booked_at=start - dt.timedelta(days=i), amount=Decimal("100.00") + i,
                direction=Transaction.Direction.CREDIT if i % 3 else Transaction.Direction.DEBIT,
                kind=Transaction.Kind.CASH_DEPOSIT, channel=Channel.BRANCH,
            )
            for i in range(count)
        ],
        batch_size=2000,
    )
