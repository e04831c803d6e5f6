"""A bank of 36 customers in three clear kinds, as of 30 June 2024, for segmentation runs.

- 12 "young digital": aged 22–29, a current account of 1–3 thousand, 20 web/mobile payments each.
- 12 "affluent retirees": aged 66–77, deposits of 400–600 thousand, 3 branch transactions each.
- 12 "borrowers": aged 41–52, a current account of 5 thousand and a mortgage of 2–3 million, card use.
The first four young customers answered a campaign (one accepted, three declined); nobody else
was contacted. On the timeline, each young customer wrote once through the mobile app, each retiree
came to the branch twice and the first retiree also complained at the counter; borrowers had no
contact. k-means finds the three kinds; rules can single any of them out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.models import Campaign, CampaignContact
from channels.models import Interaction
from customers.models import Channel, Customer, Product, Transaction
from tests.customers.factories import CustomerFactory, ProductFactory, account_for

AS_OF = dt.date(2024, 6, 30)
PER_KIND = 12


@dataclass
class SegmentBank:
    young: list[Customer] = field(default_factory=list)
    retirees: list[Customer] = field(default_factory=list)
    borrowers: list[Customer] = field(default_factory=list)

    @property
    def everyone(self) -> list[Customer]:
        return [*self.young, *self.retirees, *self.borrowers]


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(10), tzinfo=timezone.get_default_timezone())


def _transactions(account, count: int, channels: list[str], amount: str, kind: str) -> list[Transaction]:
    return [
        Transaction(
            account=account, booked_at=_at(AS_OF - dt.timedelta(days=3 + 9 * i)), amount=Decimal(amount),
            direction=Transaction.Direction.DEBIT, kind=kind, channel=channels[i % len(channels)],
        )
        for i in range(count)
    ]


@pytest.fixture(name="segment_bank")
def segment_bank_fixture(branch_a, branch_b, rm_a) -> SegmentBank:
    current = ProductFactory(code="CURRENT", category=Product.Category.CURRENT)
    deposit = ProductFactory(code="DEPOSIT", name="Deposit", category=Product.Category.DEPOSIT)
    mortgage = ProductFactory(code="MORTGAGE", name="Mortgage", category=Product.Category.MORTGAGE)
    bank = SegmentBank()
    rows: list[Transaction] = []
    K = Transaction.Kind
    for i in range(PER_KIND):
        young = CustomerFactory(home_branch=branch_a, primary_rm=rm_a, birth_date=dt.date(1995 + i % 8, 3, 1),
                                customer_since=dt.date(2021, 1, 1))
        account = account_for(young, product=current, balance=Decimal(1000 + 150 * i))
        rows += _transactions(account, 20, [Channel.WEB, Channel.MOBILE], "25", K.CARD_PAYMENT)
        bank.young.append(young)

        retiree = CustomerFactory(home_branch=branch_b, birth_date=dt.date(1947 + i, 5, 1),
                                  customer_since=dt.date(1990, 1, 1))
        saved = account_for(retiree, product=deposit, balance=Decimal(400_000 + 15_000 * i))
        rows += _transactions(saved, 3, [Channel.BRANCH], "500", K.CASH_WITHDRAWAL)
        bank.retirees.append(retiree)

        borrower = CustomerFactory(home_branch=branch_a, birth_date=dt.date(1972 + i, 9, 1),
                                   customer_since=dt.date(2012, 1, 1))
        spending = account_for(borrower, product=current, balance=Decimal(5000))
        account_for(borrower, product=mortgage, balance=Decimal(-2_000_000 - 80_000 * i),
                    principal=Decimal(2_000_000 + 80_000 * i), repayment_status="current")
        rows += _transactions(spending, 8, [Channel.CARD, Channel.BRANCH], "300", K.CARD_PAYMENT)
        bank.borrowers.append(borrower)
    Transaction.objects.bulk_create(rows)
    campaign = Campaign.objects.create(code="TD1", name="Term deposit", channel="phone", starts_on=dt.date(2024, 1, 1))
    for customer, outcome in zip(bank.young[:4], ["accepted", "declined", "declined", "declined"], strict=True):
        CampaignContact.objects.create(campaign=campaign, customer=customer, outcome=outcome,
                                       contacted_on=dt.date(2024, 2, 1))
    contacts = [(customer, Channel.MOBILE, Interaction.Kind.ENQUIRY) for customer in bank.young]
    contacts += [(customer, Channel.BRANCH, Interaction.Kind.VISIT) for customer in bank.retirees for _ in range(2)]
    contacts.append((bank.retirees[0], Channel.BRANCH, Interaction.Kind.COMPLAINT))
    Interaction.objects.bulk_create(
        Interaction(customer=customer, channel=channel, kind=kind, direction=Interaction.Direction.INBOUND,
                    occurred_at=_at(AS_OF - dt.timedelta(days=10 + n)), summary="contact")
        for n, (customer, channel, kind) in enumerate(contacts)
    )
    return bank
